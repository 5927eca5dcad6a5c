//go:build tools

// Package cluster records the commands build.sh builds, so `go mod tidy` keeps
// every module they need in go.sum.
package cluster

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
