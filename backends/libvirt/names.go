package libvirt

// Names. Every object the driver makes on libvirt is named after the ocni
// instance (the data file) and the OCCI id it was made for:
//
//	domain, network, storage volume   ocni-<tag>-<id>
//	root volume of a compute          ocni-root-<tag>-<nonce>-<id>
//
// <tag> is instanceTag: 12 hex digits of a hash of the instance id. Two
// servers sharing a libvirtd may hold entities of the same id, so the name
// must carry the instance for their objects not to clash. Domains and
// networks also hold the whole instance id in their <ocni:entity> element;
// a volume has no such place that every pool keeps (a directory pool
// rebuilds its volumes from the files' names at each libvirtd start), so
// its name is its only tag.
//
// <nonce> is 8 random hex digits, new for each copy of an image: a copy
// that a crash left half made (libvirt finishes it, or keeps it "still
// being allocated") never takes the name of the next one.
//
// Ids hold letters, digits, '.', '_', '~' and '-' only (checked at Create),
// and the fields before the id have fixed widths, so a name reads back
// unambiguously: "root" is not hex.

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strings"

	"github.com/ocni/ocni/backends"
	"github.com/ocni/ocni/occi"
)

const (
	tagLen   = 12
	nonceLen = 8
	// rootMark starts the names of root volumes, after NamePrefix.
	rootMark = "root-"
)

// idPattern is what the driver accepts as an id: what the engine gives,
// and what fits in every libvirt name.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9._~-]+$`)

// instanceTag is the short form of an instance id in names.
func instanceTag(instance string) string {
	sum := sha256.Sum256([]byte(instance))
	return hex.EncodeToString(sum[:])[:tagLen]
}

// objectName is the name of the domain, network or storage volume of an
// entity.
func objectName(instance, id string) string {
	return NamePrefix + instanceTag(instance) + "-" + id
}

func domainName(instance, id string) string  { return objectName(instance, id) }
func networkName(instance, id string) string { return objectName(instance, id) }
func volumeName(instance, id string) string  { return objectName(instance, id) }

// newRootName names a new copy of an image for the compute.
func newRootName(instance, id string) (string, error) {
	b := make([]byte, nonceLen/2)
	if _, err := rand.Read(b); err != nil {
		return "", occi.Errorf(occi.Internal, "no randomness for a volume name: %w", err)
	}
	return NamePrefix + rootMark + instanceTag(instance) + "-" + hex.EncodeToString(b) + "-" + id, nil
}

// volumeOwner reads a volume name of the driver's: the instance tag, the id
// of the entity it belongs to, and whether it is a compute's root volume.
func volumeOwner(name string) (tag, id string, root, ok bool) {
	rest, ok := strings.CutPrefix(name, NamePrefix)
	if !ok {
		return "", "", false, false
	}
	rest, root = strings.CutPrefix(rest, rootMark)
	if len(rest) < tagLen+1 || !isHex(rest[:tagLen]) || rest[tagLen] != '-' {
		return "", "", false, false
	}
	tag, rest = rest[:tagLen], rest[tagLen+1:]
	if root {
		if len(rest) < nonceLen+1 || !isHex(rest[:nonceLen]) || rest[nonceLen] != '-' {
			return "", "", false, false
		}
		rest = rest[nonceLen+1:]
	}
	if !idPattern.MatchString(rest) {
		return "", "", false, false
	}
	return tag, rest, root, true
}

func isHex(s string) bool {
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// checkID refuses an id that cannot be part of a libvirt name.
func (p *Provider) checkID(o *backends.Object) error {
	if !idPattern.MatchString(o.ID) {
		return p.invalid("id %q: libvirt names carry the id, which must be letters, digits, '.', '_', '~' and '-'", o.ID)
	}
	return nil
}
