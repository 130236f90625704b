package gather

import (
	"fmt"
	"os"
	"path/filepath"
)

// writeRoleMarkers writes nodes/<host-id>/role.<name> for every Teleport
// service teleport.yaml enables, so support sees at a glance what the node is.
func writeRoleMarkers(dir string, plan *Plan) error {
	if !plan.has("teleport") {
		return nil
	}
	node := filepath.Join(dir, "nodes", plan.Env.HostID)
	for _, role := range RoleMarkers(plan.Env.Sysroot) {
		if err := os.MkdirAll(node, 0o700); err != nil {
			return fmt.Errorf("role markers: %w", err)
		}
		body := fmt.Sprintf("the %s service is enabled in teleport.yaml\n", role)
		if err := writeFileAtomic(filepath.Join(node, "role."+role), []byte(body)); err != nil {
			return fmt.Errorf("role markers: %w", err)
		}
	}
	return nil
}

// has reports whether the plan runs the named profile.
func (p *Plan) has(profile string) bool {
	for _, pr := range p.Profiles {
		if pr.Name == profile {
			return true
		}
	}
	return false
}
