// Command etcd is etcd's own server, built from the pinned go.etcd.io/etcd/server/v3
// release: the same entry point as etcd's released binary, nothing of ours in between.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
