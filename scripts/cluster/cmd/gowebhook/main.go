// Command gowebhook is the Go yardstick of scripts/bench-native.sh (BENCHMARKS.md, "Native
// server"): not a product, but the seed's rule written the way Go admission webhooks are
// written, to measure `resource-limits serve` against. Every container and init container of
// a Pod, or of the pod template of a Deployment, StatefulSet, DaemonSet, ReplicaSet, Job or
// CronJob, must declare cpu and memory limits; anything else is accepted.
//
//	gowebhook --tls-cert-file tls.crt --tls-private-key-file tls.key [--listen 0.0.0.0:8443]
//
// It serves, over TLS only (net/http with crypto/tls, so HTTP/1.1 and HTTP/2 by ALPN):
// POST /validate and POST /mutate (the same answer, never a patch), an AdmissionReview in and
// an AdmissionReview response out (uid, allowed, and a 403 status naming the containers when
// rejected), decoded and encoded with encoding/json into the k8s.io/api admission/v1,
// core/v1, apps/v1 and batch/v1 types; and GET /healthz.
package main

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"strings"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The API server sends at most 3 MiB objects.
const maxBody = 3 << 20

func main() {
	cert := flag.String("tls-cert-file", "", "PEM certificate (chain) to serve")
	key := flag.String("tls-private-key-file", "", "PEM private key of the certificate")
	listen := flag.String("listen", "0.0.0.0:8443", "address and port to listen on")
	flag.Parse()
	if *cert == "" || *key == "" || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: gowebhook --tls-cert-file FILE --tls-private-key-file FILE [--listen ADDR:PORT]")
		os.Exit(2)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /validate", serveReview)
	mux.HandleFunc("POST /mutate", serveReview)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok"))
	})
	srv := &http.Server{
		Addr:              *listen,
		Handler:           mux,
		TLSConfig:         &tls.Config{MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       90 * time.Second,
	}
	log.Printf("gowebhook: serving on https://%s", *listen)
	if err := srv.ListenAndServeTLS(*cert, *key); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}

func serveReview(w http.ResponseWriter, r *http.Request) {
	var review admissionv1.AdmissionReview
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody)).Decode(&review); err != nil {
		http.Error(w, "not an AdmissionReview: "+err.Error(), http.StatusBadRequest)
		return
	}
	if review.Request == nil {
		http.Error(w, "not an AdmissionReview: no request", http.StatusBadRequest)
		return
	}
	response := admit(review.Request)
	response.UID = review.Request.UID
	out := admissionv1.AdmissionReview{TypeMeta: review.TypeMeta, Response: response}
	if out.APIVersion == "" {
		out.APIVersion, out.Kind = "admission.k8s.io/v1", "AdmissionReview"
	}
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(&out); err != nil {
		log.Printf("gowebhook: writing the answer: %v", err)
	}
}

// admit applies the rule to the request's object.
func admit(req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
	if req.Operation != admissionv1.Create && req.Operation != admissionv1.Update {
		return &admissionv1.AdmissionResponse{Allowed: true}
	}
	spec, err := podSpec(req.Kind, req.Object.Raw)
	if err != nil {
		return &admissionv1.AdmissionResponse{Result: &metav1.Status{
			Status: metav1.StatusFailure, Code: http.StatusBadRequest,
			Reason: metav1.StatusReasonBadRequest, Message: err.Error(),
		}}
	}
	if spec == nil {
		return &admissionv1.AdmissionResponse{Allowed: true}
	}
	var missing []string
	check := func(field string, containers []corev1.Container) {
		for i := range containers {
			limits := containers[i].Resources.Limits
			for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				if q, ok := limits[name]; !ok || q.IsZero() {
					missing = append(missing, fmt.Sprintf("%s %q: no %s limit", field, containers[i].Name, name))
				}
			}
		}
	}
	check("initContainer", spec.InitContainers)
	check("container", spec.Containers)
	if len(missing) == 0 {
		return &admissionv1.AdmissionResponse{Allowed: true}
	}
	return &admissionv1.AdmissionResponse{Result: &metav1.Status{
		Status: metav1.StatusFailure, Code: http.StatusForbidden,
		Reason: metav1.StatusReasonForbidden, Message: strings.Join(missing, "; "),
	}}
}

// podSpec decodes the object into its typed kind and returns its pod spec (nil for a kind
// without one).
func podSpec(kind metav1.GroupVersionKind, raw []byte) (*corev1.PodSpec, error) {
	decode := func(into any) error {
		if err := json.Unmarshal(raw, into); err != nil {
			return fmt.Errorf("reading the %s: %w", kind.Kind, err)
		}
		return nil
	}
	switch kind.Group + "/" + kind.Kind {
	case "/Pod":
		var o corev1.Pod
		if err := decode(&o); err != nil {
			return nil, err
		}
		return &o.Spec, nil
	case "apps/Deployment":
		var o appsv1.Deployment
		if err := decode(&o); err != nil {
			return nil, err
		}
		return &o.Spec.Template.Spec, nil
	case "apps/StatefulSet":
		var o appsv1.StatefulSet
		if err := decode(&o); err != nil {
			return nil, err
		}
		return &o.Spec.Template.Spec, nil
	case "apps/DaemonSet":
		var o appsv1.DaemonSet
		if err := decode(&o); err != nil {
			return nil, err
		}
		return &o.Spec.Template.Spec, nil
	case "apps/ReplicaSet":
		var o appsv1.ReplicaSet
		if err := decode(&o); err != nil {
			return nil, err
		}
		return &o.Spec.Template.Spec, nil
	case "batch/Job":
		var o batchv1.Job
		if err := decode(&o); err != nil {
			return nil, err
		}
		return &o.Spec.Template.Spec, nil
	case "batch/CronJob":
		var o batchv1.CronJob
		if err := decode(&o); err != nil {
			return nil, err
		}
		return &o.Spec.JobTemplate.Spec.Template.Spec, nil
	}
	return nil, nil
}
