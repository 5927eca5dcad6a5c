// Command webhooks writes the admission webhook configurations the test cluster registers,
// the way users' clusters get them, with only the address changed to a loopback URL:
//
//	webhooks kubewarden -policy CAP.yaml -url https://127.0.0.1:PORT -ca ca.crt \
//	    -module annotated-policy.wasm [-settings FILE] -policies policies.yml
//
// reads a ClusterAdmissionPolicy and writes the webhook configuration kubewarden-controller
// generates for it (policy_subreconciler_webhook.go in kubewarden-controller v1.36.0; see
// kubewardenConfig) to stdout, and the policy-server's policies.yml for the same policy;
//
//	webhooks spin -config webhooks.yaml -url https://127.0.0.1:PORT -ca ca.crt
//
// copies the configurations of examples/spinkube/webhooks.yaml unchanged but for each
// webhook's clientConfig: its service becomes the URL with the service's path;
//
//	webhooks ports N      prints N free TCP ports on 127.0.0.1, one a line
//	webhooks json FILE    prints a settings file (JSON or YAML) as one line of JSON
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
	"os"
	"path/filepath"
	"strings"

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

func kubewarden(args []string) error {
	fs := flag.NewFlagSet("kubewarden", flag.ContinueOnError)
	policyPath := fs.String("policy", "", "the ClusterAdmissionPolicy (YAML)")
	url := fs.String("url", "", "policy-server's base URL (https://127.0.0.1:PORT)")
	caPath := fs.String("ca", "", "the CA certificate that signed policy-server's certificate (PEM)")
	module := fs.String("module", "", "the policy's .wasm file, loaded by policy-server")
	settingsPath := fs.String("settings", "", "settings (JSON or YAML) instead of the policy's spec.settings")
	policiesPath := fs.String("policies", "", "where to write policy-server's policies.yml")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *policyPath == "" || *url == "" || *caPath == "" || *module == "" || *policiesPath == "" {
		return errors.New("kubewarden needs -policy, -url, -ca, -module and -policies")
	}
	text, err := os.ReadFile(*policyPath)
	if err != nil {
		return err
	}
	var cap clusterAdmissionPolicy
	if err := yaml.UnmarshalStrict(text, &cap); err != nil {
		return fmt.Errorf("%s: %w", *policyPath, err)
	}
	if cap.APIVersion != "policies.kubewarden.io/v1" || cap.Kind != "ClusterAdmissionPolicy" {
		return fmt.Errorf("%s: not a policies.kubewarden.io/v1 ClusterAdmissionPolicy", *policyPath)
	}
	settings := cap.Spec.Settings
	if *settingsPath != "" {
		raw, err := os.ReadFile(*settingsPath)
		if err != nil {
			return err
		}
		if settings, err = yaml.YAMLToJSON(raw); err != nil {
			return fmt.Errorf("%s: %w", *settingsPath, err)
		}
	}
	if len(settings) == 0 || string(settings) == "null" {
		settings = json.RawMessage("{}")
	}
	ca, err := os.ReadFile(*caPath)
	if err != nil {
		return err
	}
	abs, err := filepath.Abs(*module)
	if err != nil {
		return err
	}
	id := "clusterwide-" + cap.Metadata.Name
	// policy-server's policies.yml, as the controller writes it into the policy-server's
	// ConfigMap: the id is the policy's unique name, the path the webhook calls.
	policies := map[string]any{
		id: map[string]any{
			"module":          "file://" + abs,
			"allowedToMutate": cap.Spec.Mutating,
			"policyMode":      orDefault(cap.Spec.Mode, "protect"),
			"settings":        settings,
		},
	}
	out, err := yaml.Marshal(policies)
	if err != nil {
		return err
	}
	if err := os.WriteFile(*policiesPath, out, 0o644); err != nil {
		return err
	}
	return printYAML(kubewardenConfig(&cap, id, strings.TrimSuffix(*url, "/")+"/validate/"+id, ca))
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
