// The playground's samples: the settings of examples/settings/ and of the contract, and
// workloads that show each kind of answer. A classic script: `make web` inlines it in the
// page before app.js, which reads these two globals.

const sampleSettings = [
  {
    name: "bounded (examples/settings/bounded.json)",
    text: `{
  "cpu": {
    "minRequest": "50m",
    "maxRequest": "2",
    "maxLimit": "4",
    "defaultRequest": "250m",
    "defaultLimit": "1",
    "maxLimitRequestRatio": 4
  },
  "memory": {
    "minRequest": "32Mi",
    "maxRequest": "4Gi",
    "minLimit": "64Mi",
    "maxLimit": "2Gi",
    "defaultRequest": "128Mi",
    "defaultLimit": "512Mi"
  },
  "ignoreImages": ["registry.example.com/platform/*"]
}
`,
  },
  {
    name: "plain rule: {} (examples/settings/plain.json)",
    text: "{}\n",
  },
  {
    name: "no CPU limits (examples/settings/no-cpu-limits.json)",
    text: `{
  "cpu": {
    "requireLimit": false,
    "minRequest": "50m",
    "defaultRequest": "100m"
  },
  "memory": {
    "maxLimit": "8Gi",
    "defaultLimit": "512Mi",
    "maxLimitRequestRatio": 2
  }
}
`,
  },
  {
    name: "GPUs and ephemeral storage (examples/settings/gpu.json)",
    text: `{
  "cpu": {},
  "memory": {},
  "resources": {
    "nvidia.com/gpu": { "maxLimit": 2 },
    "ephemeral-storage": { "maxLimit": "20Gi", "defaultLimit": "2Gi" }
  }
}
`,
  },
  {
    name: "the rejection example of docs/verdicts.md",
    text: `{ "cpu": { "maxLimit": "2", "maxLimitRequestRatio": 4 }, "memory": { "maxLimit": "2Gi" } }
`,
  },
  {
    name: "every key, as YAML (the contract's example)",
    text: `# As under spec.settings of a ClusterAdmissionPolicy.
cpu:
  minRequest: 100m
  maxRequest: "2"
  minLimit: 100m
  maxLimit: "4"
  defaultRequest: 250m
  defaultLimit: "1"
  maxLimitRequestRatio: 4
memory:
  maxLimit: 8Gi
  defaultLimit: 512Mi
resources:
  ephemeral-storage:
    maxLimit: 10Gi
  nvidia.com/gpu:
    maxLimit: 2
ignoreImages:
  - registry.example.com/tools/*
ignoreInitContainers: false
`,
  },
  {
    name: "tightening a bound, warn first (examples/settings/tightening.json)",
    text: `{
  "cpu": {
    "maxLimit": "4"
  },
  "memory": {
    "maxLimit": "1Gi",
    "enforcement": "warn"
  },
  "ignoreContainers": ["istio-proxy", "linkerd-*"]
}
`,
  },
  {
    name: "invalid settings (to see the messages)",
    text: `cpu:
  maxLimit: 4 cores
  bogus: 1
memory:
  minLimit: 2Gi
  maxLimit: 1Gi
`,
  },
];

const sampleManifests = [
  {
    name: "Deployment over the limits",
    text: `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: app
          image: nginx:1.27
          resources:
            requests:
              cpu: 250m
            limits:
              cpu: "4"
              memory: 1Gi
        - name: sidecar
          image: envoyproxy/envoy:v1.31
          resources:
            limits:
              memory: 4Gi
`,
  },
  {
    name: "Deployment without resources (defaults are added)",
    text: `apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  selector:
    matchLabels: {app: api}
  template:
    metadata:
      labels: {app: api}
    spec:
      containers:
        - name: api
          image: registry.example.com/team/api:2.3
          ports:
            - containerPort: 8080
`,
  },
  {
    name: "StatefulSet with a sidecar",
    text: `apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
spec:
  serviceName: db
  selector:
    matchLabels: {app: db}
  template:
    metadata:
      labels: {app: db}
    spec:
      initContainers:
        - name: metrics
          image: prometheuscommunity/postgres-exporter:v0.15
          restartPolicy: Always
      containers:
        - name: postgres
          image: postgres:17
          resources:
            requests: {cpu: "1", memory: 1Gi}
            limits: {cpu: "2", memory: 2Gi}
`,
  },
  {
    name: "CronJob with a GPU",
    text: `apiVersion: batch/v1
kind: CronJob
metadata:
  name: train
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers:
            - name: trainer
              image: registry.example.com/ml/trainer:1.0
              resources:
                limits:
                  cpu: "2"
                  memory: 2Gi
                  nvidia.com/gpu: 4
`,
  },
  {
    name: "Pod within bounds",
    text: `apiVersion: v1
kind: Pod
metadata:
  name: ok
spec:
  containers:
    - name: app
      image: nginx:1.27
      resources:
        requests: {cpu: 500m, memory: 256Mi}
        limits: {cpu: "1", memory: 512Mi}
`,
  },
  {
    name: "two documents (one answer each)",
    text: `apiVersion: v1
kind: Pod
metadata:
  name: first
spec:
  containers:
    - name: app
      image: nginx:1.27
      resources:
        limits: {cpu: "1", memory: 512Mi}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: not-a-workload
data:
  key: value
`,
  },
  {
    name: "an AdmissionReview (JSON)",
    text: `{
  "apiVersion": "admission.k8s.io/v1",
  "kind": "AdmissionReview",
  "request": {
    "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
    "kind": {"group": "", "version": "v1", "kind": "Pod"},
    "resource": {"group": "", "version": "v1", "resource": "pods"},
    "operation": "CREATE",
    "object": {
      "apiVersion": "v1",
      "kind": "Pod",
      "metadata": {"name": "reviewed"},
      "spec": {
        "containers": [
          {"name": "app", "image": "nginx:1.27",
           "resources": {"limits": {"cpu": "8", "memory": "64Mi"}}}
        ]
      }
    }
  }
}
`,
  },
];
