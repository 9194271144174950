// Package version reports the version of the cie binary.
package version

import "runtime/debug"

// Version is set at link time with -ldflags "-X github.com/cancerimage/cie/internal/version.Version=v1.2.3".
// When unset it is derived from the build information (VCS revision).
var Version = ""

// String returns the version of this binary, never empty.
func String() string {
	if Version != "" {
		return Version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	rev, dirty := "", false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "dev"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "-dirty"
	}
	return "dev-" + rev
}
