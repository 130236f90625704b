package gather

// tctlKinds are the resource kinds fetched one `tctl get` each, as Teleport's
// support-dump RFD lays them out (objects/tctl_get_<kind>.yaml). Kinds that
// only Teleport Enterprise or newer versions know fail on the others: that
// stays visible as the .error file next to the output.
var tctlKinds = []string{
	// identities and access
	"user", "role", "token", "bot", "lock", "login_rule", "device", "access_list", "user_group",
	// authentication
	"connectors", "github", "oidc", "saml", "cert_authority", "saml_idp_service_provider", "okta_import_rule",
	// cluster configuration
	"cluster_auth_preference", "cluster_networking_config", "session_recording_config",
	"ui_config", "cluster_maintenance_config", "network_restrictions", "installer", "namespace",
	// inventory and topology
	"node", "proxy", "auth_server", "tunnel", "trusted_cluster", "remote_cluster", "semaphore",
	// protected resources and the agents serving them
	"kube_server", "kube_cluster", "db", "db_server", "app", "app_server",
	"windows_desktop", "windows_desktop_service",
}

// tctlGet is the command for one kind. Secrets stay out: --no-with-secrets is
// how tctl's flag parser (kingpin) takes a false boolean; "--with-secrets=false"
// would set the flag and pass "false" on as an argument. `tctl get all` is never
// used: it turns secrets on.
func tctlGet(kind string) []string {
	return []string{"tctl", "get", kind, "--format=yaml", "--no-with-secrets"}
}

// teleportProfile gathers one Teleport node: its config, version, journal, diag
// endpoint and audit log, and, where this host can reach the auth service, the
// cluster's objects. Role markers (nodes/<host>/role.<name>) come from
// RoleMarkers: they are written by the runner, not by a collector.
func teleportProfile(env Env) Profile {
	cfg := readTeleportConfig(env.Sysroot)
	dataDir := cfg.dataDir()
	cs := []Collector{
		copyFiles("nodes", "nodes/{host}/teleport.yaml", prioConfig, teleportConfigPath),
		run("nodes", "nodes/{host}/teleport_version.txt", prioConfig, "teleport", "version"),
		journal("teleport.service"),
		// The audit log: one file per day and auth server, kept within --since.
		optional(since(copyFiles("nodes", "nodes/{host}/audit", prioBulkLogs, dataDir+"/log"))),
	}
	if f := cfg.logFile(); f != "" {
		cs = append(cs, optional(copyFiles("nodes", "nodes/{host}/teleport.log", prioLogs, f)))
	}
	if env.DiagAddr != "" {
		for _, ep := range []struct{ path, file string }{
			{"/healthz", "healthz.txt"},
			{"/readyz", "readyz.txt"},
			{"/metrics", "metrics.txt"},
		} {
			cs = append(cs, Collector{
				Name:     "diag-" + ep.path[1:],
				Category: "nodes",
				Kind:     KindHTTP,
				URL:      diagURL(env.DiagAddr, ep.path),
				Output:   "nodes/{host}/diag/" + ep.file,
				Priority: prioStatus,
			})
		}
	}
	// tctl needs the auth service: on a host whose config turns it off, every
	// call would fail the same way, so they are left out. Without a config
	// tctl may still work from a tsh profile or identity file.
	if cfg == nil || cfg.Auth.on(true) {
		cs = append(cs,
			run("objects", "objects/tctl_status.txt", prioStatus, "tctl", "status"),
			optional(run("objects", "objects/tctl_inventory_ls.txt", prioStatus, "tctl", "inventory", "ls")),
		)
		for _, k := range tctlKinds {
			cs = append(cs, run("objects", "objects/tctl_get_"+k+".yaml", prioStatus, tctlGet(k)...))
		}
	}
	return Profile{
		Name:        "teleport",
		Description: "a Teleport node: teleport.yaml, version, journal, diag endpoint, audit log, and the cluster's objects via tctl",
		Collectors:  cs,
	}
}
