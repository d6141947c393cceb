package occi

import "testing"

func TestStateMachines(t *testing.T) {
	tests := []struct {
		kinds  []string
		action string
		state  any
		want   bool
	}{
		{[]string{ComputeKindID}, StartActionID, "active", false},
		{[]string{ComputeKindID}, StartActionID, "inactive", true},
		{[]string{ComputeKindID}, StartActionID, "error", true},
		{[]string{ComputeKindID}, StopActionID, "inactive", false},
		{[]string{ComputeKindID}, SuspendActionID, "suspended", false},
		{[]string{ComputeKindID}, SaveActionID, "suspended", true},
		{[]string{"http://example.com/occi#vm", ComputeKindID, ResourceKindID}, RestartActionID, "inactive", false},
		{[]string{NetworkKindID}, UpActionID, "active", false},
		{[]string{StorageKindID}, OnlineActionID, "online", false},
		{[]string{StorageKindID}, StorageActionScheme + "backup", "online", true}, // unknown to the machine
		{[]string{ComputeKindID}, StartActionID, nil, true},                       // no state to judge by
		{[]string{ComputeKindID}, StartActionID, 3.0, true},
	}
	for _, tt := range tests {
		m := StateMachineOf(tt.kinds...)
		if m == nil {
			t.Fatalf("no state machine for %v", tt.kinds)
		}
		if got := m.Allows(tt.action, tt.state); got != tt.want {
			t.Errorf("%v: %s in %v = %v, want %v", tt.kinds, tt.action, tt.state, got, tt.want)
		}
	}
	if StateMachineOf(NetworkInterfaceID, LinkKindID) != nil {
		t.Error("links have no state machine")
	}
}
