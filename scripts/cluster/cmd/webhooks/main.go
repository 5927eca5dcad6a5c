// Command webhooks writes the admission webhook configurations the test cluster registers,
// the way users' clusters get them, with only the address changed to a loopback URL:
//
//	webhooks kubewarden -policy CAP.yaml [-policy CAP2.yaml] -url https://127.0.0.1:PORT \
//	    -ca ca.crt -module annotated-policy.wasm [-settings FILE] -policies policies.yml
//
// reads ClusterAdmissionPolicies and writes the webhook configuration kubewarden-controller
// generates for each (policy_subreconciler_webhook.go in kubewarden-controller v1.36.0; see
// kubewardenConfig) to stdout, and the policy-server's policies.yml for the same policy;
//
//	webhooks spin -config webhooks.yaml -url https://127.0.0.1:PORT -ca ca.crt
//
// copies the configurations of examples/spinkube/webhooks.yaml unchanged but for each
// webhook's clientConfig: its service becomes the URL with the service's path;
//
//	webhooks ports N      prints N free TCP ports on 127.0.0.1, one a line
//	webhooks json FILE    prints a settings file (JSON or YAML) as one line of JSON
//	webhooks injector -listen ADDR -cert FILE -key FILE
//	                      serves a sidecar injector (POST /inject) over TLS: another mutating
//	                      webhook, as a service mesh's, that adds a container without resources
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// clusterAdmissionPolicy is the part of policies.kubewarden.io/v1 ClusterAdmissionPolicy the
// controller reads to build the webhook and policy-server reads to load the policy. Unknown
// fields are an error, so a field added to the example is a decision here, not a silent drop.
type clusterAdmissionPolicy struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Metadata   metav1.ObjectMeta `json:"metadata"`
	Spec       struct {
		Module                                  string                                       `json:"module"`
		Mode                                    string                                       `json:"mode,omitempty"`
		Mutating                                bool                                         `json:"mutating"`
		BackgroundAudit                         *bool                                        `json:"backgroundAudit,omitempty"`
		PolicyServer                            string                                       `json:"policyServer,omitempty"`
		Settings                                json.RawMessage                              `json:"settings,omitempty"`
		Rules                                   []admissionregistrationv1.RuleWithOperations `json:"rules"`
		FailurePolicy                           *admissionregistrationv1.FailurePolicyType   `json:"failurePolicy,omitempty"`
		MatchPolicy                             *admissionregistrationv1.MatchPolicyType     `json:"matchPolicy,omitempty"`
		MatchConditions                         []admissionregistrationv1.MatchCondition     `json:"matchConditions,omitempty"`
		NamespaceSelector                       *metav1.LabelSelector                        `json:"namespaceSelector,omitempty"`
		ObjectSelector                          *metav1.LabelSelector                        `json:"objectSelector,omitempty"`
		SideEffects                             *admissionregistrationv1.SideEffectClass     `json:"sideEffects,omitempty"`
		TimeoutSeconds                          *int32                                       `json:"timeoutSeconds,omitempty"`
		TimeoutEvalSeconds                      *int32                                       `json:"timeoutEvalSeconds,omitempty"`
		Message                                 string                                       `json:"message,omitempty"`
		AllowInsideAdmissionControllerNamespace bool                                         `json:"allowInsideAdmissionControllerNamespace,omitempty"`
		ContextAwareResources                   []json.RawMessage                            `json:"contextAwareResources,omitempty"`
	} `json:"spec"`
}

// The namespace kubewarden's Helm chart installs the controller and policy-server into; the
// controller keeps every ClusterAdmissionPolicy out of it.
const deploymentsNamespace = "kubewarden"

func main() {
	if len(os.Args) < 2 {
		fail(errors.New("usage: webhooks kubewarden|spin [flags]"))
	}
	var err error
	switch os.Args[1] {
	case "kubewarden":
		err = kubewarden(os.Args[2:])
	case "spin":
		err = spin(os.Args[2:])
	case "ports":
		err = ports(os.Args[2:])
	case "json":
		err = toJSON(os.Args[2:])
	case "injector":
		err = injector(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q (kubewarden or spin)", os.Args[1])
	}
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "webhooks: %v\n", err)
	os.Exit(2)
}

// repeated is a flag given any number of times.
type repeated []string

func (r *repeated) String() string     { return strings.Join(*r, ",") }
func (r *repeated) Set(v string) error { *r = append(*r, v); return nil }

func kubewarden(args []string) error {
	fs := flag.NewFlagSet("kubewarden", flag.ContinueOnError)
	var policyPaths repeated
	fs.Var(&policyPaths, "policy", "a ClusterAdmissionPolicy (YAML); may be given more than once")
	url := fs.String("url", "", "policy-server's base URL (https://127.0.0.1:PORT)")
	caPath := fs.String("ca", "", "the CA certificate that signed policy-server's certificate (PEM)")
	module := fs.String("module", "", "the policy's .wasm file, loaded by policy-server")
	settingsPath := fs.String("settings", "", "settings (JSON or YAML) instead of each policy's spec.settings")
	policiesPath := fs.String("policies", "", "where to write policy-server's policies.yml")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if len(policyPaths) == 0 || *url == "" || *caPath == "" || *module == "" || *policiesPath == "" {
		return errors.New("kubewarden needs -policy, -url, -ca, -module and -policies")
	}
	var override json.RawMessage
	if *settingsPath != "" {
		raw, err := os.ReadFile(*settingsPath)
		if err != nil {
			return err
		}
		if override, err = yaml.YAMLToJSON(raw); err != nil {
			return fmt.Errorf("%s: %w", *settingsPath, err)
		}
	}
	ca, err := os.ReadFile(*caPath)
	if err != nil {
		return err
	}
	abs, err := filepath.Abs(*module)
	if err != nil {
		return err
	}
	policies := map[string]any{}
	for i, policyPath := range policyPaths {
		text, err := os.ReadFile(policyPath)
		if err != nil {
			return err
		}
		var cap clusterAdmissionPolicy
		if err := yaml.UnmarshalStrict(text, &cap); err != nil {
			return fmt.Errorf("%s: %w", policyPath, err)
		}
		if cap.APIVersion != "policies.kubewarden.io/v1" || cap.Kind != "ClusterAdmissionPolicy" {
			return fmt.Errorf("%s: not a policies.kubewarden.io/v1 ClusterAdmissionPolicy", policyPath)
		}
		settings := cap.Spec.Settings
		if override != nil {
			settings = override
			// The validating twin carries the mutating policy's settings without the defaults
			// (examples/cluster-admission-policy-validating.yaml): after every mutating
			// webhook, a value still missing is the policy's own violation.
			if !cap.Spec.Mutating {
				if settings, err = withoutDefaults(override); err != nil {
					return fmt.Errorf("%s: %w", *settingsPath, err)
				}
			}
		}
		if len(settings) == 0 || string(settings) == "null" {
			settings = json.RawMessage("{}")
		}
		id := "clusterwide-" + cap.Metadata.Name
		if _, dup := policies[id]; dup {
			return fmt.Errorf("%s: a second policy named %s", policyPath, cap.Metadata.Name)
		}
		// policy-server's policies.yml, as the controller writes it into the policy-server's
		// ConfigMap: the id is the policy's unique name, the path the webhook calls.
		policies[id] = map[string]any{
			"module":          "file://" + abs,
			"allowedToMutate": cap.Spec.Mutating,
			"policyMode":      orDefault(cap.Spec.Mode, "protect"),
			"settings":        settings,
		}
		if i > 0 {
			fmt.Println("---")
		}
		if err := printYAML(kubewardenConfig(&cap, id, strings.TrimSuffix(*url, "/")+"/validate/"+id, ca)); err != nil {
			return err
		}
	}
	out, err := yaml.Marshal(policies)
	if err != nil {
		return err
	}
	return os.WriteFile(*policiesPath, out, 0o644)
}

// withoutDefaults is the settings with defaultRequest and defaultLimit taken out of every rule
// (cpu, memory and each of resources); numbers kept as written.
func withoutDefaults(settings json.RawMessage) (json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(settings))
	dec.UseNumber()
	var top map[string]any
	if err := dec.Decode(&top); err != nil {
		return nil, fmt.Errorf("settings: %w", err)
	}
	strip := func(rule any) {
		if r, ok := rule.(map[string]any); ok {
			delete(r, "defaultRequest")
			delete(r, "defaultLimit")
		}
	}
	strip(top["cpu"])
	strip(top["memory"])
	if resources, ok := top["resources"].(map[string]any); ok {
		for _, rule := range resources {
			strip(rule)
		}
	}
	return json.Marshal(top)
}

// kubewardenConfig is what kubewarden-controller v1.36.0's reconcileMutatingWebhookConfiguration
// and reconcileValidatingWebhookConfiguration build: one webhook named <id>.kubewarden.admission;
// the policy's rules, failurePolicy, matchPolicy, objectSelector and matchConditions as they are;
// sideEffects None unless set; timeoutSeconds 10 unless set (the CRD's default); admission
// review v1 only; and a namespaceSelector that keeps the policy out of the controller's own
// namespace, followed by the policy's own expressions. Only clientConfig differs: a URL
// instead of the policy-server Service.
func kubewardenConfig(cap *clusterAdmissionPolicy, id, url string, ca []byte) any {
	sideEffects := cap.Spec.SideEffects
	if sideEffects == nil {
		none := admissionregistrationv1.SideEffectClassNone
		sideEffects = &none
	}
	timeout := cap.Spec.TimeoutSeconds
	if timeout == nil {
		ten := int32(10)
		timeout = &ten
	}
	selector := cap.Spec.NamespaceSelector
	if !cap.Spec.AllowInsideAdmissionControllerNamespace {
		selector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{
			Key: "kubernetes.io/metadata.name", Operator: metav1.LabelSelectorOpNotIn,
			Values: []string{deploymentsNamespace},
		}}}
		if cap.Spec.NamespaceSelector != nil {
			selector.MatchExpressions = append(selector.MatchExpressions, cap.Spec.NamespaceSelector.MatchExpressions...)
		}
	}
	meta := metav1.ObjectMeta{
		Name:   id,
		Labels: map[string]string{"app.kubernetes.io/part-of": "kubewarden"},
		Annotations: map[string]string{
			"kubewardenPolicyName":      cap.Metadata.Name,
			"kubewardenPolicyNamespace": "",
		},
	}
	client := admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: ca}
	if cap.Spec.Mutating {
		return &admissionregistrationv1.MutatingWebhookConfiguration{
			TypeMeta:   metav1.TypeMeta{APIVersion: "admissionregistration.k8s.io/v1", Kind: "MutatingWebhookConfiguration"},
			ObjectMeta: meta,
			Webhooks: []admissionregistrationv1.MutatingWebhook{{
				Name: id + ".kubewarden.admission", ClientConfig: client, Rules: cap.Spec.Rules,
				FailurePolicy: cap.Spec.FailurePolicy, MatchPolicy: cap.Spec.MatchPolicy,
				NamespaceSelector: selector, ObjectSelector: cap.Spec.ObjectSelector,
				SideEffects: sideEffects, TimeoutSeconds: timeout,
				AdmissionReviewVersions: []string{"v1"}, MatchConditions: cap.Spec.MatchConditions,
			}},
		}
	}
	return &admissionregistrationv1.ValidatingWebhookConfiguration{
		TypeMeta:   metav1.TypeMeta{APIVersion: "admissionregistration.k8s.io/v1", Kind: "ValidatingWebhookConfiguration"},
		ObjectMeta: meta,
		Webhooks: []admissionregistrationv1.ValidatingWebhook{{
			Name: id + ".kubewarden.admission", ClientConfig: client, Rules: cap.Spec.Rules,
			FailurePolicy: cap.Spec.FailurePolicy, MatchPolicy: cap.Spec.MatchPolicy,
			NamespaceSelector: selector, ObjectSelector: cap.Spec.ObjectSelector,
			SideEffects: sideEffects, TimeoutSeconds: timeout,
			AdmissionReviewVersions: []string{"v1"}, MatchConditions: cap.Spec.MatchConditions,
		}},
	}
}

func spin(args []string) error {
	fs := flag.NewFlagSet("spin", flag.ContinueOnError)
	configPath := fs.String("config", "", "the webhook configurations (YAML, several documents)")
	url := fs.String("url", "", "the Spin app's base URL (https://127.0.0.1:PORT)")
	caPath := fs.String("ca", "", "the CA certificate that signed the app's certificate (PEM)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *configPath == "" || *url == "" || *caPath == "" {
		return errors.New("spin needs -config, -url and -ca")
	}
	text, err := os.ReadFile(*configPath)
	if err != nil {
		return err
	}
	ca, err := os.ReadFile(*caPath)
	if err != nil {
		return err
	}
	base := strings.TrimSuffix(*url, "/")
	reader := utilyaml.NewYAMLReader(bufioReader(text))
	first := true
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("%s: %w", *configPath, err)
		}
		if len(bytes.TrimSpace(stripComments(doc))) == 0 {
			continue
		}
		var meta metav1.TypeMeta
		if err := yaml.Unmarshal(doc, &meta); err != nil {
			return fmt.Errorf("%s: %w", *configPath, err)
		}
		var obj any
		switch meta.Kind {
		case "MutatingWebhookConfiguration":
			var c admissionregistrationv1.MutatingWebhookConfiguration
			if err := yaml.UnmarshalStrict(doc, &c); err != nil {
				return fmt.Errorf("%s: %w", *configPath, err)
			}
			for i := range c.Webhooks {
				if err := toURL(&c.Webhooks[i].ClientConfig, c.Webhooks[i].Name, base, ca); err != nil {
					return err
				}
			}
			obj = &c
		case "ValidatingWebhookConfiguration":
			var c admissionregistrationv1.ValidatingWebhookConfiguration
			if err := yaml.UnmarshalStrict(doc, &c); err != nil {
				return fmt.Errorf("%s: %w", *configPath, err)
			}
			for i := range c.Webhooks {
				if err := toURL(&c.Webhooks[i].ClientConfig, c.Webhooks[i].Name, base, ca); err != nil {
					return err
				}
			}
			obj = &c
		default:
			return fmt.Errorf("%s: a %s is not a webhook configuration", *configPath, meta.Kind)
		}
		if !first {
			fmt.Println("---")
		}
		first = false
		if err := printYAML(obj); err != nil {
			return err
		}
	}
	if first {
		return fmt.Errorf("%s: no webhook configuration", *configPath)
	}
	return nil
}

// toURL points a webhook at base+path instead of its Service, as a cluster would reach it.
func toURL(c *admissionregistrationv1.WebhookClientConfig, name, base string, ca []byte) error {
	if c.Service == nil {
		return fmt.Errorf("webhook %s has no service to replace", name)
	}
	path := ""
	if c.Service.Path != nil {
		path = *c.Service.Path
	}
	url := base + path
	*c = admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: ca}
	return nil
}

func printYAML(obj any) error {
	out, err := yaml.Marshal(obj)
	if err != nil {
		return err
	}
	_, err = os.Stdout.Write(out)
	return err
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func bufioReader(b []byte) *bufio.Reader { return bufio.NewReader(bytes.NewReader(b)) }

// stripComments drops comment lines, so a document of only comments counts as empty.
func stripComments(doc []byte) []byte {
	var out []byte
	for _, line := range bytes.Split(doc, []byte("\n")) {
		if t := bytes.TrimSpace(line); len(t) > 0 && t[0] != '#' {
			out = append(out, line...)
			out = append(out, '\n')
		}
	}
	return out
}

// ports asks the kernel for n free loopback ports (all held open until every one is known,
// so they differ).
func ports(args []string) error {
	n := 1
	if len(args) == 1 {
		if _, err := fmt.Sscanf(args[0], "%d", &n); err != nil || n < 1 || n > 32 {
			return fmt.Errorf("ports: %q is not a count from 1 to 32", args[0])
		}
	}
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			_ = l.Close()
		}
	}()
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		listeners = append(listeners, l)
		fmt.Println(l.Addr().(*net.TCPAddr).Port)
	}
	return nil
}

func toJSON(args []string) error {
	if len(args) != 1 {
		return errors.New("json needs one file")
	}
	raw, err := os.ReadFile(args[0])
	if err != nil {
		return err
	}
	out, err := yaml.YAMLToJSON(raw)
	if err != nil {
		return fmt.Errorf("%s: %w", args[0], err)
	}
	if string(out) == "null" {
		out = []byte("{}")
	}
	fmt.Println(string(out))
	return nil
}

// The container the test injector adds, as a service mesh's injector adds its proxy: no
// resources of its own.
var injected = map[string]any{"name": "injected-proxy", "image": "registry.example.com/mesh/proxy:1.0"}

// injector serves POST /inject: for a Pod without the injected container, a JSONPatch that
// appends it; otherwise no patch (the API server may call it again).
func injector(args []string) error {
	fs := flag.NewFlagSet("injector", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:0", "address")
	cert := fs.String("cert", "", "serving certificate (PEM)")
	key := fs.String("key", "", "its key (PEM)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cert == "" || *key == "" {
		return errors.New("injector needs -cert and -key")
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/inject", func(w http.ResponseWriter, r *http.Request) {
		var review admissionv1.AdmissionReview
		if err := json.NewDecoder(io.LimitReader(r.Body, 3<<20)).Decode(&review); err != nil || review.Request == nil {
			http.Error(w, "not an AdmissionReview", http.StatusBadRequest)
			return
		}
		response := &admissionv1.AdmissionResponse{UID: review.Request.UID, Allowed: true}
		var pod struct {
			Spec struct {
				Containers []struct {
					Name string `json:"name"`
				} `json:"containers"`
			} `json:"spec"`
		}
		if err := json.Unmarshal(review.Request.Object.Raw, &pod); err != nil {
			http.Error(w, "not a Pod", http.StatusBadRequest)
			return
		}
		present := false
		for _, c := range pod.Spec.Containers {
			present = present || c.Name == injected["name"]
		}
		if !present {
			patch, _ := json.Marshal([]map[string]any{{"op": "add", "path": "/spec/containers/-", "value": injected}})
			pt := admissionv1.PatchTypeJSONPatch
			response.Patch = patch
			response.PatchType = &pt
		}
		review.Response = response
		review.Request = nil
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(&review)
	})
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	fmt.Println(l.Addr().String())
	server := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	return server.ServeTLS(l, *cert, *key)
}
