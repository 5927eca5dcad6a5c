// Command createbench times Deployment creates through a real API server, for
// scripts/bench-cluster.sh (BENCHMARKS.md, "Through the API server"):
//
//	createbench -kubeconfig admin.kubeconfig -namespace bench-1 -n 1000 -warmup 50 \
//	    -prefix web -variant mutated
//
// One clientset, so one kept-alive HTTP/2 connection to the API server, and no client-side
// rate limit. It creates the Deployment -warmup times (not timed), then -n times, one after
// the other, each with its own name, and times each create (the call, from the request to
// the decoded answer). It prints one JSON line: creates, errors, p50/p90/p99/mean/min/max in
// milliseconds, and how many of the timed creates came back with resources other than those
// sent (mutated: a webhook added the defaults). Any failed create is an error: the command
// then exits 1 after printing.
//
// The Deployment is the 4-container Deployment of tests/hosts/src/bin/bench.rs (`make
// bench`), written again here: -variant accepted has complete resources everywhere,
// -variant mutated leaves them out of the last container (the policy adds its defaults).
// It is created with replicas 0 and paused (-replicas, -paused), so the controllers make no
// ReplicaSet and no Pod: the time is admission and storage of the Deployment only, with no
// controller traffic through the webhook alongside.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"sort"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

type result struct {
	Creates int     `json:"creates"`
	Errors  int     `json:"errors"`
	Mutated int     `json:"mutated"`
	P50     float64 `json:"p50_ms"`
	P90     float64 `json:"p90_ms"`
	P99     float64 `json:"p99_ms"`
	Mean    float64 `json:"mean_ms"`
	Min     float64 `json:"min_ms"`
	Max     float64 `json:"max_ms"`
	// The first error's text, when there was one.
	FirstError string `json:"first_error,omitempty"`
}

func main() {
	kubeconfig := flag.String("kubeconfig", os.Getenv("KUBECONFIG"), "the kubeconfig (default: $KUBECONFIG)")
	n := flag.Int("n", 1000, "timed creates")
	warmup := flag.Int("warmup", 50, "creates before the timed ones, not timed")
	namespace := flag.String("namespace", "default", "the namespace to create in (must exist)")
	prefix := flag.String("prefix", "bench", "the Deployments' names: PREFIX-w0.., PREFIX-0..")
	variant := flag.String("variant", "mutated", "mutated (the last container without resources) or accepted (complete)")
	replicas := flag.Int("replicas", 0, "spec.replicas")
	paused := flag.Bool("paused", true, "spec.paused (a paused Deployment gets no ReplicaSet)")
	timeout := flag.Duration("timeout", 30*time.Second, "the limit on one create")
	flag.Parse()
	if err := run(*kubeconfig, *n, *warmup, *namespace, *prefix, *variant, int32(*replicas), *paused, *timeout); err != nil {
		fmt.Fprintf(os.Stderr, "createbench: %v\n", err)
		os.Exit(1)
	}
}

func run(kubeconfig string, n, warmup int, namespace, prefix, variant string, replicas int32, paused bool, timeout time.Duration) error {
	if n < 1 || warmup < 0 {
		return errors.New("-n must be at least 1 and -warmup at least 0")
	}
	var complete bool
	switch variant {
	case "mutated":
	case "accepted":
		complete = true
	default:
		return fmt.Errorf("-variant must be mutated or accepted (got %q)", variant)
	}
	config, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return err
	}
	// No client-side rate limit (client-go's default is 5 requests a second): the creates
	// go one after the other, as fast as the API server answers.
	config.QPS = -1
	config.UserAgent = "createbench"
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		return err
	}
	deployments := client.AppsV1().Deployments(namespace)
	template, err := deployment(4, complete)
	if err != nil {
		return err
	}
	template.Namespace = namespace
	template.Spec.Replicas = &replicas
	template.Spec.Paused = paused

	create := func(name string) (*appsv1.Deployment, time.Duration, error) {
		d := template.DeepCopy()
		d.Name = name
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		start := time.Now()
		got, err := deployments.Create(ctx, d, metav1.CreateOptions{})
		return got, time.Since(start), err
	}

	var res result
	for i := 0; i < warmup; i++ {
		if _, _, err := create(fmt.Sprintf("%s-w%d", prefix, i)); err != nil {
			return fmt.Errorf("warm-up create %d: %w", i, err)
		}
	}
	times := make([]float64, 0, n)
	for i := 0; i < n; i++ {
		got, took, err := create(fmt.Sprintf("%s-%d", prefix, i))
		if err != nil {
			res.Errors++
			if res.FirstError == "" {
				res.FirstError = err.Error()
			}
			continue
		}
		times = append(times, float64(took.Microseconds())/1000)
		if !sameResources(template, got) {
			res.Mutated++
		}
	}
	res.Creates = len(times)
	if len(times) > 0 {
		sort.Float64s(times)
		res.P50 = percentile(times, 50)
		res.P90 = percentile(times, 90)
		res.P99 = percentile(times, 99)
		sum := 0.0
		for _, t := range times {
			sum += t
		}
		res.Mean = round(sum / float64(len(times)))
		res.Min = times[0]
		res.Max = times[len(times)-1]
	}
	line, err := json.Marshal(res)
	if err != nil {
		return err
	}
	fmt.Println(string(line))
	if res.Errors > 0 {
		return fmt.Errorf("%d of %d creates failed; the first: %s", res.Errors, n, res.FirstError)
	}
	return nil
}

// percentile is the nearest-rank percentile of sorted times.
func percentile(sorted []float64, p float64) float64 {
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	if rank < 1 {
		rank = 1
	}
	return sorted[rank-1]
}

func round(ms float64) float64 { return math.Round(ms*1000) / 1000 }

// sameResources tells whether every container of got has the resources sent.
func sameResources(sent, got *appsv1.Deployment) bool {
	a, b := sent.Spec.Template.Spec.Containers, got.Spec.Template.Spec.Containers
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !equality.Semantic.DeepEqual(a[i].Resources, b[i].Resources) {
			return false
		}
	}
	return true
}

// deployment is `deployment(n, complete)` of tests/hosts/src/bin/bench.rs with
// testkit::wrap: n containers with env, probes, a volume mount and a security context, with
// complete resources, or none on the last container unless complete.
func deployment(n int, complete bool) (*appsv1.Deployment, error) {
	containers := make([]map[string]any, 0, n)
	for i := 0; i < n; i++ {
		c := map[string]any{
			"name":            fmt.Sprintf("c%d", i),
			"image":           fmt.Sprintf("registry.example.com/team/service-%d:1.%d.0", i, i),
			"imagePullPolicy": "IfNotPresent",
			"args":            []string{"--port=8080", "--log-level=info", "--metrics"},
			"ports":           []any{map[string]any{"name": "http", "containerPort": 8080, "protocol": "TCP"}},
			"env": []any{
				map[string]any{"name": "POD_NAME", "valueFrom": map[string]any{"fieldRef": map[string]any{"fieldPath": "metadata.name"}}},
				map[string]any{"name": "MODE", "value": "production"},
				map[string]any{"name": "GOMAXPROCS", "valueFrom": map[string]any{"resourceFieldRef": map[string]any{"resource": "limits.cpu"}}},
			},
			"readinessProbe":  map[string]any{"httpGet": map[string]any{"path": "/ready", "port": "http"}, "periodSeconds": 10},
			"livenessProbe":   map[string]any{"httpGet": map[string]any{"path": "/live", "port": "http"}, "initialDelaySeconds": 5},
			"volumeMounts":    []any{map[string]any{"name": "config", "mountPath": "/etc/service", "readOnly": true}},
			"securityContext": map[string]any{"runAsNonRoot": true, "allowPrivilegeEscalation": false, "capabilities": map[string]any{"drop": []string{"ALL"}}},
			"resources": map[string]any{
				"requests": map[string]any{"cpu": "250m", "memory": "256Mi"},
				"limits":   map[string]any{"cpu": "1", "memory": "512Mi"},
			},
		}
		if !complete && i == n-1 {
			delete(c, "resources")
		}
		containers = append(containers, c)
	}
	object := map[string]any{
		"apiVersion": "apps/v1",
		"kind":       "Deployment",
		"metadata":   map[string]any{"name": "demo", "namespace": "default"},
		"spec": map[string]any{
			"selector": map[string]any{"matchLabels": map[string]any{"app": "demo"}},
			"template": map[string]any{
				"metadata": map[string]any{"labels": map[string]any{"app": "demo"}},
				"spec": map[string]any{
					"serviceAccountName": "service",
					"containers":         containers,
					"volumes":            []any{map[string]any{"name": "config", "configMap": map[string]any{"name": "service-config"}}},
					"nodeSelector":       map[string]any{"kubernetes.io/os": "linux"},
					"tolerations":        []any{map[string]any{"key": "dedicated", "operator": "Equal", "value": "apps", "effect": "NoSchedule"}},
				},
			},
		},
	}
	text, err := json.Marshal(object)
	if err != nil {
		return nil, err
	}
	// Strict, so a misspelt field is an error rather than a field left out.
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.DisallowUnknownFields()
	var d appsv1.Deployment
	if err := dec.Decode(&d); err != nil {
		return nil, err
	}
	return &d, nil
}
