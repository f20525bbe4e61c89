package adminui

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/minimall/minimall/internal/auth"
)

// The console hides what a role cannot do from its own copy of the role
// table (web/admin/src/lib/perm.ts); the server enforces auth's. The two
// must say the same, or the console shows buttons that answer 403 or hides
// ones a role may use.
func TestConsoleRoleTableMatchesTheServers(t *testing.T) {
	src, err := os.ReadFile("../../web/admin/src/lib/perm.ts")
	if err != nil {
		t.Fatal(err)
	}
	text := string(src)
	quoted := regexp.MustCompile(`"([a-z_.]+)"`)
	strs := func(s string) []string {
		var out []string
		for _, m := range quoted.FindAllStringSubmatch(s, -1) {
			out = append(out, m[1])
		}
		return out
	}

	union := regexp.MustCompile(`(?s)export type Permission =(.*?);`).FindStringSubmatch(text)
	if union == nil {
		t.Fatal("perm.ts: no Permission type")
	}
	var server []string
	for _, p := range auth.Permissions {
		server = append(server, string(p))
	}
	console := strs(union[1])
	slices.Sort(server)
	slices.Sort(console)
	if !slices.Equal(console, server) {
		t.Errorf("console permissions %v, server %v", console, server)
	}

	body := regexp.MustCompile(`(?s)const grants[^=]*=\s*\{(.*?)\n\};`).FindStringSubmatch(text)
	if body == nil {
		t.Fatal("perm.ts: no grants table")
	}
	entry := regexp.MustCompile(`(?s)([a-z_]+):\s*\[(.*?)\]`)
	seen := map[auth.Role]bool{}
	for _, m := range entry.FindAllStringSubmatch(body[1], -1) {
		role := auth.Role(m[1])
		seen[role] = true
		granted := strs(m[2])
		for _, p := range auth.Permissions {
			if got, want := slices.Contains(granted, string(p)), role.Can(p); got != want {
				t.Errorf("role %s, %s: console grants %v, server %v", role, p, got, want)
			}
		}
	}
	for _, r := range auth.Roles {
		if r != auth.RoleOwner && !seen[r] {
			t.Errorf("role %s is missing from the console's table", r)
		}
	}
	if !strings.Contains(text, `if (role === "owner") return true;`) {
		t.Error("the console no longer gives the owner every permission, as the server does")
	}
}
