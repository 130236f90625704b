package gather

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"path"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/dumptool/dump/internal/human"
)

// maxHelmRelease bounds one decoded Helm release (chart templates included).
const maxHelmRelease = 64 << 20

// KindKubeSecrets reads the Secrets of Namespace (all with -A when empty)
// and writes not a single value: Output/kubectl_get_secrets.yaml has each
// one's name, namespace, type, labels, and keys with the length of their
// values; the Helm releases stored in them (type helm.sh/release.v1) are
// decoded into Output/helm_releases.yaml: chart, version, status, revision
// and the user-supplied values, redacted like any config. Values stay in
// memory; the redactor learns them, so that a copy elsewhere in the dump (a
// log line, a ConfigMap) is caught by the leak scan.
const KindKubeSecrets Kind = "kube_secrets"

type kubeSecretsKind struct{}

func (kubeSecretsKind) validate(c *Collector) (string, error) { return validateKube(c) }

func (kubeSecretsKind) describe(c Collector, _ Env) string {
	_, where := kubeScope(c.Namespace)
	return fmt.Sprintf("%s get secrets -o json %s: names, types, keys and value lengths (no value); Helm releases decoded",
		human.Command(kubectlArgv(c)), where)
}

func (kubeSecretsKind) run(ctx context.Context, s *runState, c Collector, res *CollectorResult) {
	kubectl := kubectlArgv(c)
	scope, where := kubeScope(c.Namespace)
	argv := slices.Concat(kubectl, []string{"get", "secrets"}, scope, []string{"-o", "json"})
	res.Command = argv
	res.Source = "Secrets " + where + ": names, types, keys and value lengths; Helm releases decoded"
	out := path.Join(c.Output, "kubectl_get_secrets.yaml")

	var secrets []secretSummary
	var releases []helmRelease
	var bad []string
	sub := s.kubeCallTo(ctx, c, res, argv, errorPath(out), "list secrets", c.Namespace, func(r io.Reader) error {
		return eachItem(r, func(raw json.RawMessage) error {
			var sec kubeSecret
			if err := json.Unmarshal(raw, &sec); err != nil {
				return err
			}
			s.red.Bytes(raw, "secret.json") // teaches the redactor the values; the output is not kept
			secrets = append(secrets, sec.summary())
			if sec.Type == "helm.sh/release.v1" {
				rel, err := decodeHelmRelease(sec.Data["release"])
				if err != nil {
					bad = append(bad, fmt.Sprintf("%s/%s: %v", sec.Metadata.Namespace, sec.Metadata.Name, err))
					return nil
				}
				rel.StoredIn = sec.Metadata.Name
				releases = append(releases, rel)
			}
			return nil
		})
	})
	if sub.Status == StatusOK {
		s.writeYAML(&sub, out, secrets)
		if len(releases) > 0 {
			s.writeYAML(&sub, path.Join(c.Output, "helm_releases.yaml"), releases)
		}
	}
	s.absorb(ctx, res, []CollectorResult{sub}, "lists", []string{"secrets"})
	if len(bad) > 0 && res.Status == StatusOK {
		res.Error = "Helm releases not decoded: " + firstFew(bad)
	}
}

// kubeSecret is what a Secret's summary needs. Data values are base64.
type kubeSecret struct {
	Metadata struct {
		Name              string            `json:"name"`
		Namespace         string            `json:"namespace"`
		CreationTimestamp string            `json:"creationTimestamp"`
		Labels            map[string]string `json:"labels"`
	} `json:"metadata"`
	Type string            `json:"type"`
	Data map[string]string `json:"data"`
}

// secretSummary is a Secret without its values.
type secretSummary struct {
	Name      string            `yaml:"name"`
	Namespace string            `yaml:"namespace"`
	Type      string            `yaml:"type"`
	Created   string            `yaml:"created,omitempty"`
	Labels    map[string]string `yaml:"labels,omitempty"`
	Keys      []secretKey       `yaml:"keys"`
}

// secretKey is one key of a Secret and the length of its value. A list, not
// a map: "token: 34" would read as a token to the redactor, and to people.
type secretKey struct {
	Key   string `yaml:"key"`
	Bytes int    `yaml:"bytes"`
}

func (sec kubeSecret) summary() secretSummary {
	keys := make([]secretKey, 0, len(sec.Data))
	for _, k := range slices.Sorted(maps.Keys(sec.Data)) {
		v := sec.Data[k]
		keys = append(keys, secretKey{Key: k, Bytes: base64.StdEncoding.DecodedLen(len(v)) - strings.Count(v, "=")})
	}
	return secretSummary{Name: sec.Metadata.Name, Namespace: sec.Metadata.Namespace, Type: sec.Type,
		Created: sec.Metadata.CreationTimestamp, Labels: sec.Metadata.Labels, Keys: keys}
}

// helmRelease is what support needs of a Helm release.
type helmRelease struct {
	StoredIn     string         `yaml:"stored_in"` // the Secret's name ("secret:" would read as a secret to the redactor)
	Namespace    string         `yaml:"namespace"`
	Release      string         `yaml:"release"`
	Revision     int            `yaml:"revision"`
	Status       string         `yaml:"status"`
	Deployed     string         `yaml:"last_deployed,omitempty"`
	Description  string         `yaml:"description,omitempty"`
	Chart        string         `yaml:"chart"`
	ChartVersion string         `yaml:"chart_version"`
	AppVersion   string         `yaml:"app_version,omitempty"`
	Values       map[string]any `yaml:"values"` // user-supplied (helm get values), not the chart's defaults
}

// decodeHelmRelease decodes a release as Helm 3 stores it in a Secret's
// "release" key: base64 (the Secret's), base64, gzip, JSON.
func decodeHelmRelease(data string) (helmRelease, error) {
	var rel helmRelease
	once, err := base64.StdEncoding.DecodeString(data)
	if err != nil {
		return rel, fmt.Errorf("secret data is not base64: %w", err)
	}
	twice, err := base64.StdEncoding.DecodeString(string(once))
	if err != nil {
		return rel, fmt.Errorf("release is not base64: %w", err)
	}
	var js io.Reader = bytes.NewReader(twice)
	if bytes.HasPrefix(twice, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(js)
		if err != nil {
			return rel, fmt.Errorf("release is not gzip: %w", err)
		}
		js = zr
	}
	var r struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
		Version   int    `json:"version"`
		Info      struct {
			Status       string `json:"status"`
			LastDeployed string `json:"last_deployed"`
			Description  string `json:"description"`
		} `json:"info"`
		Chart struct {
			Metadata struct {
				Name       string `json:"name"`
				Version    string `json:"version"`
				AppVersion string `json:"appVersion"`
			} `json:"metadata"`
		} `json:"chart"`
		Config map[string]any `json:"config"`
	}
	if err := json.NewDecoder(io.LimitReader(js, maxHelmRelease)).Decode(&r); err != nil {
		return rel, fmt.Errorf("release JSON: %w", err)
	}
	return helmRelease{Namespace: r.Namespace, Release: r.Name, Revision: r.Version, Status: r.Info.Status,
		Deployed: r.Info.LastDeployed, Description: r.Info.Description, Chart: r.Chart.Metadata.Name,
		ChartVersion: r.Chart.Metadata.Version, AppVersion: r.Chart.Metadata.AppVersion, Values: r.Config}, nil
}

// writeYAML writes v as YAML to rel through the redactor.
func (s *runState) writeYAML(res *CollectorResult, rel string, v any) {
	b, err := yaml.Marshal(v)
	if err != nil {
		res.fail(FailOther, fmt.Sprintf("write %s: %v", rel, err))
		return
	}
	s.writeText(res, rel, string(b))
}

// eachItem calls fn with each element of the "items" array of a Kubernetes
// List in JSON, one at a time, so that memory holds one object, not the list.
func eachItem(r io.Reader, fn func(json.RawMessage) error) error {
	dec := json.NewDecoder(r)
	t, err := dec.Token()
	if err == io.EOF {
		return nil // kubectl failed and printed nothing: its stderr says why
	}
	if err != nil || t != json.Delim('{') {
		return errors.Join(errors.New("not a JSON object"), err)
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		if t != "items" {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return err
			}
			continue
		}
		if t, err := dec.Token(); err != nil || t != json.Delim('[') {
			if t == nil && err == nil {
				continue // "items": null
			}
			return errors.Join(errors.New("items is not an array"), err)
		}
		for dec.More() {
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return err
			}
			if err := fn(raw); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil {
			return err
		}
	}
	return nil
}
