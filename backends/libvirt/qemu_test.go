package libvirt

// The QEMU smoke test boots a real guest through qemu:///system where this
// host has /dev/kvm; scripts/libvirt-qemu-setup.sh (run by `make test`
// there) installs and starts what it needs.

import (
	"bytes"
	"compress/gzip"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ocni/ocni/backends"
	"github.com/ocni/ocni/backends/backendtest"
	"github.com/ocni/ocni/occi"
)

const (
	qemuURI      = "qemu:///system"
	kvmDevice    = "/dev/kvm"
	qemuSetup    = "scripts/libvirt-qemu-setup.sh, as root, prepares qemu:///system for it"
	smokeMarker  = "ocni-smoke-ok"
	smokeBootFor = 60 * time.Second
)

// smokeKernels are where a Debian kernel for direct kernel boot is looked
// for: the installed package's, or the one the setup script took out of it.
var smokeKernels = []string{"/boot/vmlinuz-*", "/var/lib/libvirt/boot/vmlinuz-*"}

// smokeBusyboxes are where busybox-static puts its binary.
var smokeBusyboxes = []string{"/bin/busybox", "/usr/bin/busybox"}

// TestQEMUSmoke boots a real guest through qemu:///system: a network, two
// volumes holding a kernel and an initramfs, and a compute with an
// interface on the network, made through the driver; the compute is
// stopped, its definition given the kernel, and started again through the
// driver; its /init prints a marker on the serial console and powers off.
// Everything is removed before the provider closes, and nothing named
// after the test is left on the host.
func TestQEMUSmoke(t *testing.T) {
	track(t)
	if _, err := os.Stat(kvmDevice); err != nil {
		t.Skipf("no %s on this host: the QEMU smoke test runs only where KVM is", kvmDevice)
	}
	kernel := smokeKernel(t)
	initrd := smokeInitramfs(t, smokeBusybox(t))

	raw, err := backends.Open("lab", DriverName, map[string]any{OptURI: qemuURI, OptRefreshInterval: "0s", OptStopTimeout: "3s"})
	if err != nil {
		t.Fatalf("opening a libvirt provider on %s: %v\n%s", qemuURI, err, qemuSetup)
	}
	p := raw.(*Provider)
	// Registered first, so that it runs after the cleanups below, which
	// use the provider.
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("closing the provider: %v", err)
		}
	})
	if typ := p.domainType("x86_64"); typ != "kvm" {
		t.Logf("libvirt offers %s, not kvm, guests on %s: the guest runs emulated, slowly", typ, qemuURI)
	}

	id := "smoke-" + backendtest.NewID()[:8]
	console := filepath.Join(t.TempDir(), "console.log")
	kvol := storageObject(id+"-kernel", float64(len(kernel))/bytesPerGiB)
	ivol := storageObject(id+"-initrd", float64(len(initrd))/bytesPerGiB)
	netw := networkObject(id+"-net", nil)
	vm := computeObject(id, map[string]any{attrMemory: 0.25})
	nic := linkObject(occi.NetworkInterfaceID, id+"-nic", vm, netw, map[string]any{attrInterface: "eth0"})

	t.Cleanup(func() { checkNothingLeft(t, p, objectName(vm.Instance, id)) })
	t.Cleanup(func() {
		// Links before their compute, the compute before what it uses.
		for _, o := range []*backends.Object{nic, vm, netw, kvol, ivol} {
			if err := p.Delete(context.Background(), o); err != nil && !errors.Is(err, occi.ErrNotFound) {
				t.Errorf("cleanup: Delete(%s %s): %v", o.Kind, o.ID, err)
			}
		}
	})

	kpath := uploadVolume(t, p, kvol, kernel)
	ipath := uploadVolume(t, p, ivol, initrd)
	if got := mustCreate(t, p, netw); got[attrNetworkState] != "active" {
		t.Fatalf("Create(network) = %v, want active", got)
	}
	if got := mustCreate(t, p, vm); got[attrComputeState] != "active" {
		t.Fatalf("Create(compute) = %v, want active", got)
	}
	mustCreate(t, p, nic)
	if got := mustRetrieve(t, p, nic); got["occi.networkinterface.state"] != "active" {
		t.Errorf("the interface was not hot-plugged into the running guest: %v", got)
	}
	// The guest has nothing to boot yet (no disk, no kernel): nothing in it
	// hears the power button, so a graceful stop runs out of time. That is
	// a Timeout (504) saying the compute is still active, not a success.
	_, stopErr := p.Action(t.Context(), vm, occi.StopActionID, map[string]any{"method": "acpioff"})
	if !errors.Is(stopErr, occi.ErrTimeout) || !strings.Contains(stopErr.Error(), "still active") {
		t.Errorf("a graceful stop nothing answers = %v, want a Timeout saying it is still active", stopErr)
	}
	if got := mustAction(t, p, vm, occi.StopActionID, map[string]any{"method": "poweroff"}); got[attrComputeState] != "inactive" {
		t.Fatalf("stop: %v, want inactive", got)
	}

	// No OCCI attribute says "boot this kernel": the definition the driver
	// made is given one, keeping the driver's metadata, so that the driver
	// goes on managing the domain.
	c := conn(t, p)
	d, err := p.findDomain(c, vm.Instance, vm.ID)
	if err != nil {
		t.Fatal(err)
	}
	if typ := d.def.get("type"); typ == "kvm" && !hardwareVirt(t) {
		// This /dev/kvm is a paravirtual KVM (PVM, for one), which boots
		// only guest kernels built for it: a stock kernel hangs early.
		t.Logf("this host's CPU has neither vmx nor svm, so %s is not hardware-assisted KVM: the guest runs under TCG (domain type qemu)", kvmDevice)
		d.def.set("type", "qemu")
	}
	osElem := d.def.child("os")
	osElem.remove(func(k *node) bool { return k.name == "boot" })
	osElem.add(
		textElem("kernel", kpath),
		textElem("initrd", ipath),
		textElem("cmdline", "console=ttyS0 quiet panic=-1 ocni_smoke="+id),
	)
	// A file catches the console from the guest's first byte, which a
	// console stream opened after the start could miss.
	devices := d.def.child("devices")
	devices.remove(func(k *node) bool { return k.name == "serial" || k.name == "console" })
	devices.add(elem("serial", "type", "file").add(elem("source", "path", console), elem("target", "port", "0")))
	if _, err := p.define(c, d.def); err != nil {
		t.Fatal(err)
	}

	started := time.Now()
	if got := mustAction(t, p, vm, occi.StartActionID, nil); got[attrComputeState] != "active" {
		t.Fatalf("start: %v, want active", got)
	}
	want := smokeMarker + " " + id
	line, state := waitForGuest(t, p, vm, console, want)
	if line == "" {
		log, _ := os.ReadFile(console)
		t.Fatalf("no %q on the guest's console within %s (compute %s); the console said:\n%s", want, smokeBootFor, state, log)
	}
	t.Logf("guest console, %s after the start: %s", time.Since(started).Round(time.Millisecond), line)
	if state != "inactive" {
		t.Errorf("the guest printed its marker but was still %s after %s; want inactive (its /init powers off)", state, smokeBootFor)
	}
}

// waitForGuest waits at most smokeBootFor for the marker line on the
// console and for the guest to power off, reading its state through the
// driver; it returns the line ("" if none came) and the last state.
func waitForGuest(t *testing.T, p *Provider, vm *backends.Object, console, want string) (string, string) {
	t.Helper()
	deadline := time.Now().Add(smokeBootFor)
	line, state := "", ""
	for {
		if line == "" {
			log, err := os.ReadFile(console)
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				t.Fatal(err)
			}
			for l := range strings.Lines(string(log)) {
				if strings.Contains(l, want) {
					line = strings.TrimSpace(l)
				}
			}
		}
		state = fmt.Sprint(mustRetrieve(t, p, vm)[attrComputeState])
		switch {
		case line != "" && state == "inactive":
			return line, state
		case line == "" && state != "active":
			// Stopped without the marker: one last read, the console may
			// have been written just before.
			if log, _ := os.ReadFile(console); strings.Contains(string(log), want) {
				continue
			}
			return "", state
		case time.Now().After(deadline):
			return line, state
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// hardwareVirt reports whether the CPU has hardware virtualization (vmx
// or svm among its flags), which KVM needs to run unmodified guests.
func hardwareVirt(t *testing.T) bool {
	t.Helper()
	info, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(info)) {
		name, flags, ok := strings.Cut(line, ":")
		if ok && strings.TrimSpace(name) == "flags" {
			fields := strings.Fields(flags)
			return slices.Contains(fields, "vmx") || slices.Contains(fields, "svm")
		}
	}
	return false
}

// uploadVolume writes data into a volume made through the driver, of the
// data's size, and returns the volume's path on the host.
func uploadVolume(t *testing.T, p *Provider, o *backends.Object, data []byte) string {
	t.Helper()
	mustCreate(t, p, o)
	c := conn(t, p)
	vol, err := p.findVolume(c, o.Instance, o.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.StorageVolUpload(vol, bytes.NewReader(data), 0, uint64(len(data)), 0); err != nil {
		t.Fatalf("uploading %d bytes into volume %s: %v", len(data), vol.Name, err)
	}
	path, err := c.StorageVolGetPath(vol)
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// checkNothingLeft fails the test if a domain, network or volume of the
// default pool named with prefix is still there.
func checkNothingLeft(t *testing.T, p *Provider, prefix string) {
	t.Helper()
	c, err := p.client(context.Background(), "check")
	if err != nil {
		t.Errorf("checking for leftovers: %v", err)
		return
	}
	var left []string
	doms, _, err := c.ConnectListAllDomains(1, 0)
	if err != nil {
		t.Errorf("listing domains: %v", err)
	}
	for _, d := range doms {
		left = append(left, "domain "+d.Name)
	}
	nets, _, err := c.ConnectListAllNetworks(1, 0)
	if err != nil {
		t.Errorf("listing networks: %v", err)
	}
	for _, n := range nets {
		left = append(left, "network "+n.Name)
	}
	if sp, err := p.pool(c); err != nil {
		t.Errorf("looking up the pool: %v", err)
	} else if vols, _, err := c.StoragePoolListAllVolumes(sp, 1, 0); err != nil {
		t.Errorf("listing volumes: %v", err)
	} else {
		for _, v := range vols {
			left = append(left, "volume "+v.Name)
		}
	}
	left = slices.DeleteFunc(left, func(s string) bool {
		_, name, _ := strings.Cut(s, " ")
		return !strings.HasPrefix(name, prefix)
	})
	if len(left) > 0 {
		t.Errorf("left on %s after the cleanup: %s", qemuURI, strings.Join(left, ", "))
	}
}

// smokeKernel reads a kernel from the first place of smokeKernels that
// has one.
func smokeKernel(t *testing.T) []byte {
	t.Helper()
	for _, pattern := range smokeKernels {
		found, _ := filepath.Glob(pattern)
		if len(found) == 0 {
			continue
		}
		data, err := os.ReadFile(found[len(found)-1])
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	t.Fatalf("no kernel at %s for the guest's direct kernel boot; %s", strings.Join(smokeKernels, " or "), qemuSetup)
	return nil
}

// smokeBusybox reads a statically linked busybox: the guest has no
// libraries.
func smokeBusybox(t *testing.T) []byte {
	t.Helper()
	for _, path := range smokeBusyboxes {
		f, err := elf.Open(path)
		if err != nil {
			continue
		}
		dynamic := slices.ContainsFunc(f.Progs, func(p *elf.Prog) bool { return p.Type == elf.PT_INTERP })
		_ = f.Close()
		if dynamic {
			t.Fatalf("%s is linked dynamically: the guest needs busybox-static; %s", path, qemuSetup)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	t.Fatalf("no busybox at %s for the guest's /init; %s", strings.Join(smokeBusyboxes, " or "), qemuSetup)
	return nil
}

// smokeInit is the guest's /init: the marker with the id the kernel
// command line gives, then power off (init must not exit).
const smokeInit = `#!/bin/busybox sh
/bin/busybox echo "` + smokeMarker + ` $ocni_smoke"
/bin/busybox poweroff -f
`

// smokeInitramfs builds a gzipped initramfs holding busybox and /init,
// with the /dev/console node the kernel gives init as its output.
func smokeInitramfs(t *testing.T, busybox []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	w := &cpioWriter{w: zw}
	w.dir("dev")
	w.charDev("dev/console", 5, 1)
	w.dir("bin")
	w.file("bin/busybox", busybox)
	w.file("init", []byte(smokeInit))
	w.close()
	if w.err == nil {
		w.err = zw.Close()
	}
	if w.err != nil {
		t.Fatalf("building the initramfs: %v", w.err)
	}
	return buf.Bytes()
}

// cpioWriter writes the "newc" cpio format the kernel unpacks an
// initramfs from; the first error sticks.
type cpioWriter struct {
	w   io.Writer
	ino int
	n   int64
	err error
}

func (c *cpioWriter) dir(name string)            { c.entry(name, 0o040755, 0, 0, nil) }
func (c *cpioWriter) file(name string, b []byte) { c.entry(name, 0o100755, 0, 0, b) }
func (c *cpioWriter) charDev(name string, major, minor int) {
	c.entry(name, 0o020600, major, minor, nil)
}
func (c *cpioWriter) close() { c.entry("TRAILER!!!", 0, 0, 0, nil) }

func (c *cpioWriter) entry(name string, mode, major, minor int, data []byte) {
	c.ino++
	nlink := 1
	if mode&0o040000 != 0 {
		nlink = 2
	}
	// magic, ino, mode, uid, gid, nlink, mtime, filesize, devmajor,
	// devminor, rdevmajor, rdevminor, namesize, check
	c.write(fmt.Appendf(nil, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		c.ino, mode, 0, 0, nlink, 0, len(data), 0, 0, major, minor, len(name)+1, 0))
	c.write(append([]byte(name), 0))
	c.pad()
	c.write(data)
	c.pad()
}

// pad aligns to 4 bytes, as newc wants after a name and after data.
func (c *cpioWriter) pad() {
	if r := c.n % 4; r != 0 {
		c.write(make([]byte, 4-r))
	}
}

func (c *cpioWriter) write(b []byte) {
	if c.err != nil {
		return
	}
	n, err := c.w.Write(b)
	c.n += int64(n)
	c.err = err
}
