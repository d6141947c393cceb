package occi

import "slices"

// StateMachine is the state machine of an infrastructure kind (GFD.184's
// state diagrams): the attribute that holds the state, and for each action
// the states it is allowed from and the state it leads to. Providers follow
// it; the server offers an entity only the actions its state allows.
type StateMachine struct {
	Kind      string
	Attribute string
	Actions   map[string]Transition
}

// Transition is one action of a state machine: the states it is allowed
// from, and the state it leads to ("" keeps the state).
type Transition struct {
	From []string
	To   string
}

// An entity in error may be started or stopped again (a crashed guest), or
// brought up or online again: the way out of the error state.
var stateMachines = []*StateMachine{
	{
		Kind: ComputeKindID, Attribute: "occi.compute.state",
		Actions: map[string]Transition{
			StartActionID:   {From: []string{"inactive", "suspended", "error"}, To: "active"},
			StopActionID:    {From: []string{"active", "suspended", "error"}, To: "inactive"},
			RestartActionID: {From: []string{"active"}, To: "active"},
			SuspendActionID: {From: []string{"active"}, To: "suspended"},
			SaveActionID:    {From: []string{"active", "inactive", "suspended"}},
		},
	},
	{
		Kind: NetworkKindID, Attribute: "occi.network.state",
		Actions: map[string]Transition{
			UpActionID:   {From: []string{"inactive", "error"}, To: "active"},
			DownActionID: {From: []string{"active", "error"}, To: "inactive"},
		},
	},
	{
		Kind: StorageKindID, Attribute: "occi.storage.state",
		Actions: map[string]Transition{
			OnlineActionID:  {From: []string{"offline", "error"}, To: "online"},
			OfflineActionID: {From: []string{"online", "error"}, To: "offline"},
		},
	},
}

// StateMachineOf returns the state machine of the first of kinds (a kind
// and its ancestors) that has one, or nil.
func StateMachineOf(kinds ...string) *StateMachine {
	for _, k := range kinds {
		for _, m := range stateMachines {
			if m.Kind == k {
				return m
			}
		}
	}
	return nil
}

// Allows reports whether an action may be invoked in a state. An action the
// machine does not know, or a state it cannot read, is allowed: the machine
// only says no to what it knows to be wrong.
func (m *StateMachine) Allows(action string, state any) bool {
	t, known := m.Actions[action]
	s, isString := state.(string)
	if !known || !isString || s == "" {
		return true
	}
	return slices.Contains(t.From, s)
}
