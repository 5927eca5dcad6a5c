// Command celcost prints cel-go's static cost estimate of each CEL expression of the
// admission policies `resource-limits export cel` writes (issue 26):
//
//	resource-limits export cel -s SETTINGS | celcost [-kinds Pod,Deployment]
//
// It reads the YAML stream on stdin, and for each ValidatingAdmissionPolicy and
// MutatingAdmissionPolicy (admissionregistration.k8s.io/v1) in it, each of its expressions
// (matchConditions, variables, validations' expression and messageExpression, auditAnnotations'
// valueExpression, mutations' jsonPatch or applyConfiguration expression) and each kind of
// -kinds the policy's matchConstraints match, it compiles the expression and prints the
// estimate cel-go makes of its cost, as a markdown table, next to Kubernetes' limits: the
// per-call limit of one expression (1,000,000) and the runtime budget of a policy's
// evaluation (10,000,000; 2,500,000 for its matchConditions). A second table adds up the
// estimates per policy and kind. The figures are cel-go's cost units, the ones the API server
// counts at runtime against the same limits.
//
// The environment is the one kube-controller-manager type-checks ValidatingAdmissionPolicies
// in (validatingadmissionpolicy-status controller, k8s.io/apiserver
// pkg/admission/plugin/policy/validating/typechecking.go): object and oldObject typed from the
// OpenAPI schema of the kind (the built-in definitions, resolved by the same
// DefinitionsSchemaResolver over the same schemes), request, namespaceObject, authorizer (and
// authorizer.requestResource, which the API server declares beside it), and variables
// composed as the API server composes them (pkg/admission/plugin/cel/composition.go: each
// variable compiled in order, and variables.NAME given its result type as the composition
// converts it: an object becomes dyn, a list or map has no bound, a variable that does not
// compile is dyn). The schema leaves out what has no CEL type: resources.limits and requests
// among others (a Quantity is oneOf string or number there, with no type). JSONPatch and
// ApplyConfiguration expressions get the JSONPatch and apply configuration types, as the
// mutating policy plugin compiles them (pkg/admission/plugin/cel/compile.go, HasPatchTypes).
// Each expression must evaluate to the type the API server requires (bool, string, list of
// JSONPatch...).
//
// The estimate is env.EstimateCost with k8s.io/apiserver's library.CostEstimator, the cost
// model of the Kubernetes CEL libraries. The API server itself never estimates the cost of a
// policy's expressions (only CRD validation rules are estimated, in apiextensions-apiserver);
// for the sizes of lists, maps and strings, this command gives the estimator what the
// apiextensions-apiserver gives it for CRDs: the bounds of the DeclType built from the schema
// (maxItems, maxLength..., else as many as a request of celconfig.MaxRequestSizeBytes, 3 MiB,
// can hold: k8s.io/apiserver pkg/cel/common/schemas.go), for values reached from object and
// oldObject along a field path. Anything else (request, namespaceObject, variables, whose
// lists the composition declares without bound, and values out of optional field selection
// `.?f` or calls, which lose the path) has no size bound, as in the API server's own types,
// and a comprehension over it comes out at cel-go's ceiling, 2^64-1: unbounded.
//
// -kinds names the kinds (default Pod,Deployment) among Pod, PodTemplate,
// ReplicationController, Deployment, ReplicaSet, StatefulSet, DaemonSet, Job and CronJob (the
// resources of the exported matchConstraints); "all" is every kind a policy matches, and "dyn"
// adds the environment the API server compiles and runs the expressions in at admission, with
// object and oldObject of type dyn (no schema).
//
// Exit status: 0 when every expression compiled for every kind; 1 when some did not (the
// tables are printed all the same, then each compile error: an expression that does not
// type-check for a kind it matches is a finding); 2 for a usage error or an input it cannot
// read.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strings"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/checker"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apiextensionsscheme "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset/scheme"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/version"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	plugincel "k8s.io/apiserver/pkg/admission/plugin/cel"
	"k8s.io/apiserver/pkg/admission/plugin/policy/mutating/patch"
	"k8s.io/apiserver/pkg/admission/plugin/policy/validating"
	"k8s.io/apiserver/pkg/admission/plugin/webhook/matchconditions"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	apiservercel "k8s.io/apiserver/pkg/cel"
	"k8s.io/apiserver/pkg/cel/common"
	"k8s.io/apiserver/pkg/cel/environment"
	"k8s.io/apiserver/pkg/cel/library"
	"k8s.io/apiserver/pkg/cel/mutation"
	celopenapi "k8s.io/apiserver/pkg/cel/openapi"
	"k8s.io/apiserver/pkg/cel/openapi/resolver"
	k8sscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/kubernetes/pkg/generated/openapi"
	"sigs.k8s.io/yaml"
)

// dynKind is the -kinds name of the API server's own environment: object untyped.
const dynKind = "dyn"

// kindInfo is a kind the exported policies match, and the resource that names it in
// matchConstraints.
type kindInfo struct {
	gvk      schema.GroupVersionKind
	resource string
}

// knownKinds are the kinds of the exported matchConstraints, in the order the tables list
// them. kube-controller-manager maps resources to kinds with the API server's discovery; these
// built-in ones do not change.
var knownKinds = []kindInfo{
	{schema.GroupVersionKind{Version: "v1", Kind: "Pod"}, "pods"},
	{schema.GroupVersionKind{Version: "v1", Kind: "PodTemplate"}, "podtemplates"},
	{schema.GroupVersionKind{Version: "v1", Kind: "ReplicationController"}, "replicationcontrollers"},
	{schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}, "deployments"},
	{schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "ReplicaSet"}, "replicasets"},
	{schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "StatefulSet"}, "statefulsets"},
	{schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "DaemonSet"}, "daemonsets"},
	{schema.GroupVersionKind{Group: "batch", Version: "v1", Kind: "Job"}, "jobs"},
	{schema.GroupVersionKind{Group: "batch", Version: "v1", Kind: "CronJob"}, "cronjobs"},
}

// budget says which runtime budget an expression's cost counts against.
type budget int

const (
	policyBudget budget = iota // celconfig.RuntimeCELCostBudget
	matchBudget                // celconfig.RuntimeCELCostBudgetMatchConditions
)

// expression is one CEL expression of a policy, with what the API server compiles it as.
type expression struct {
	field    string // where it is, e.g. "spec.matchConditions[0] not-a-pod-update"
	accessor plugincel.ExpressionAccessor
	variable bool // a spec.variables entry: compiled and stored as variables.NAME
	patch    bool // a mutation: compiled with the patch types
	budget   budget
}

// policy is a ValidatingAdmissionPolicy or MutatingAdmissionPolicy, reduced to what the
// estimate needs.
type policy struct {
	name        string
	hasParams   bool
	kinds       []kindInfo // the kinds its matchConstraints match
	unknown     []string   // matched resources that are none of knownKinds
	expressions []expression
}

// row is one line of the table: an expression compiled for a kind.
type row struct {
	policy, field, kind string
	budget              budget
	estimate            checker.CostEstimate
	err                 error // the compile error, if it did not compile
}

func main() {
	kinds := flag.String("kinds", "Pod,Deployment", `the kinds to type object as, comma-separated; "all": each kind a policy matches; "dyn": object untyped, as at admission`)
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: celcost [-kinds Pod,Deployment] < exported.yaml")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 0 {
		flag.Usage()
		os.Exit(2)
	}
	failed, err := run(os.Stdin, os.Stdout, *kinds)
	if err != nil {
		fmt.Fprintf(os.Stderr, "celcost: %v\n", err)
		os.Exit(2)
	}
	if failed > 0 {
		fmt.Fprintf(os.Stderr, "celcost: %d expression(s) did not compile for a kind (listed after the tables)\n", failed)
		os.Exit(1)
	}
}

// run prints the tables for the policies read from in, and returns how many (expression, kind)
// pairs did not compile.
func run(in io.Reader, out io.Writer, kindsFlag string) (int, error) {
	wanted, all, dyn, err := parseKinds(kindsFlag)
	if err != nil {
		return 0, err
	}
	policies, err := readPolicies(in)
	if err != nil {
		return 0, err
	}
	if len(policies) == 0 {
		return 0, errors.New("no ValidatingAdmissionPolicy or MutatingAdmissionPolicy on stdin")
	}
	// kube-controller-manager's schema resolver (cmd/kube-controller-manager/app/
	// validatingadmissionpolicystatus.go), less the discovery of the API server's custom
	// resources: the built-in kinds are all in the generated definitions.
	schemas := resolver.NewDefinitionsSchemaResolver(openapi.GetOpenAPIDefinitions, k8sscheme.Scheme, apiextensionsscheme.Scheme)
	declTypes := map[string]*apiservercel.DeclType{}

	var rows []row
	for _, p := range policies {
		for _, u := range p.unknown {
			fmt.Fprintf(os.Stderr, "celcost: %s matches %s, not a kind celcost knows; not checked\n", p.name, u)
		}
		var targets []kindInfo
		if all {
			targets = p.kinds
		} else {
			for _, k := range wanted {
				if matches(p, k) {
					targets = append(targets, k)
				} else {
					fmt.Fprintf(os.Stderr, "celcost: %s does not match %s; skipped for it\n", p.name, k.gvk.Kind)
				}
			}
		}
		for _, k := range targets {
			dt, ok := declTypes[k.gvk.Kind]
			if !ok {
				if dt, err = declType(schemas, k.gvk); err != nil {
					return 0, err
				}
				declTypes[k.gvk.Kind] = dt
			}
			r, err := estimate(p, k.gvk.Kind, dt)
			if err != nil {
				return 0, err
			}
			rows = append(rows, r...)
		}
		if dyn {
			r, err := estimate(p, dynKind, nil)
			if err != nil {
				return 0, err
			}
			rows = append(rows, r...)
		}
	}
	return report(out, rows), nil
}

func parseKinds(s string) (wanted []kindInfo, all, dyn bool, err error) {
	for _, name := range strings.Split(s, ",") {
		name = strings.TrimSpace(name)
		switch name {
		case "":
			continue
		case "all":
			all = true
			continue
		case dynKind:
			dyn = true
			continue
		}
		found := false
		for _, k := range knownKinds {
			if k.gvk.Kind == name {
				wanted, found = append(wanted, k), true
			}
		}
		if !found {
			var names []string
			for _, k := range knownKinds {
				names = append(names, k.gvk.Kind)
			}
			return nil, false, false, fmt.Errorf("-kinds: unknown kind %q (known: %s, all, %s)", name, strings.Join(names, ", "), dynKind)
		}
	}
	if len(wanted) == 0 && !all && !dyn {
		return nil, false, false, errors.New("-kinds names no kind")
	}
	return wanted, all, dyn, nil
}

func matches(p policy, k kindInfo) bool {
	for _, m := range p.kinds {
		if m.gvk == k.gvk {
			return true
		}
	}
	return false
}

// readPolicies reads the YAML stream: the policies, strictly (an unknown field is an error);
// their bindings and anything else are skipped.
func readPolicies(in io.Reader) ([]policy, error) {
	reader := utilyaml.NewYAMLReader(bufio.NewReader(in))
	var policies []policy
	for n := 1; ; n++ {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return policies, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading document %d: %w", n, err)
		}
		var meta struct {
			metav1.TypeMeta `json:",inline"`
			Metadata        struct {
				Name string `json:"name"`
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal(doc, &meta); err != nil {
			return nil, fmt.Errorf("document %d: %w", n, err)
		}
		if meta.APIVersion == "" && meta.Kind == "" {
			continue // empty document
		}
		switch {
		case meta.APIVersion == "admissionregistration.k8s.io/v1" && meta.Kind == "ValidatingAdmissionPolicy":
			var vap admissionregistrationv1.ValidatingAdmissionPolicy
			if err := yaml.UnmarshalStrict(doc, &vap); err != nil {
				return nil, fmt.Errorf("document %d, ValidatingAdmissionPolicy %s: %w", n, meta.Metadata.Name, err)
			}
			policies = append(policies, validatingPolicy(&vap))
		case meta.APIVersion == "admissionregistration.k8s.io/v1" && meta.Kind == "MutatingAdmissionPolicy":
			var mp admissionregistrationv1.MutatingAdmissionPolicy
			if err := yaml.UnmarshalStrict(doc, &mp); err != nil {
				return nil, fmt.Errorf("document %d, MutatingAdmissionPolicy %s: %w", n, meta.Metadata.Name, err)
			}
			policies = append(policies, mutatingPolicy(&mp))
		case strings.HasSuffix(meta.Kind, "Binding"):
		default:
			fmt.Fprintf(os.Stderr, "celcost: document %d is a %s %s, not a policy; skipped\n", n, meta.APIVersion, meta.Kind)
		}
	}
}

// newPolicy is what both kinds of policy share: the name, whether it has params, the kinds it
// matches, and its match conditions and variables, in that order.
func newPolicy(name string, params bool, constraints *admissionregistrationv1.MatchResources, conditions []admissionregistrationv1.MatchCondition, vars []admissionregistrationv1.Variable) policy {
	p := policy{name: name, hasParams: params}
	p.kinds, p.unknown = matchedKinds(constraints)
	p.expressions = append(p.expressions, matchConditions(conditions)...)
	p.expressions = append(p.expressions, variables(vars)...)
	return p
}

func validatingPolicy(vap *admissionregistrationv1.ValidatingAdmissionPolicy) policy {
	s := &vap.Spec
	p := newPolicy(vap.Name, s.ParamKind != nil, s.MatchConstraints, s.MatchConditions, s.Variables)
	for i, v := range s.Validations {
		at := fmt.Sprintf("spec.validations[%d]", i)
		p.expressions = append(p.expressions, expression{field: at + ".expression", accessor: &validating.ValidationCondition{Expression: v.Expression}})
		if v.MessageExpression != "" {
			p.expressions = append(p.expressions, expression{field: at + ".messageExpression", accessor: &validating.MessageExpressionCondition{MessageExpression: v.MessageExpression}})
		}
	}
	for i, a := range s.AuditAnnotations {
		p.expressions = append(p.expressions, expression{
			field:    fmt.Sprintf("spec.auditAnnotations[%d].valueExpression %s", i, a.Key),
			accessor: &validating.AuditAnnotationCondition{Key: a.Key, ValueExpression: a.ValueExpression},
		})
	}
	return p
}

func mutatingPolicy(mp *admissionregistrationv1.MutatingAdmissionPolicy) policy {
	s := &mp.Spec
	p := newPolicy(mp.Name, s.ParamKind != nil, s.MatchConstraints, s.MatchConditions, s.Variables)
	for i, m := range s.Mutations {
		at := fmt.Sprintf("spec.mutations[%d]", i)
		switch {
		case m.PatchType == admissionregistrationv1.PatchTypeJSONPatch && m.JSONPatch != nil:
			p.expressions = append(p.expressions, expression{field: at + ".jsonPatch.expression", accessor: &patch.JSONPatchCondition{Expression: m.JSONPatch.Expression}, patch: true})
		case m.PatchType == admissionregistrationv1.PatchTypeApplyConfiguration && m.ApplyConfiguration != nil:
			p.expressions = append(p.expressions, expression{field: at + ".applyConfiguration.expression", accessor: &patch.ApplyConfigurationCondition{Expression: m.ApplyConfiguration.Expression}, patch: true})
		default:
			fmt.Fprintf(os.Stderr, "celcost: %s %s: patchType %q without its expression; skipped\n", mp.Name, at, m.PatchType)
		}
	}
	return p
}

func matchConditions(conditions []admissionregistrationv1.MatchCondition) []expression {
	var e []expression
	for i := range conditions {
		e = append(e, expression{
			field:    fmt.Sprintf("spec.matchConditions[%d] %s", i, conditions[i].Name),
			accessor: (*matchconditions.MatchCondition)(&conditions[i]),
			budget:   matchBudget,
		})
	}
	return e
}

func variables(vars []admissionregistrationv1.Variable) []expression {
	var e []expression
	for i, v := range vars {
		e = append(e, expression{
			field:    fmt.Sprintf("spec.variables[%d] %s", i, v.Name),
			accessor: &validating.Variable{Name: v.Name, Expression: v.Expression},
			variable: true,
		})
	}
	return e
}

// matchedKinds resolves the resource rules of matchConstraints to kinds as
// kube-controller-manager's type checker does (typesToCheck): a rule with a wildcard group or
// version is skipped, and so are wildcard resources and subresources.
func matchedKinds(mc *admissionregistrationv1.MatchResources) (kinds []kindInfo, unknown []string) {
	if mc == nil {
		return nil, nil
	}
	seen := map[schema.GroupVersionKind]bool{}
	for _, rule := range mc.ResourceRules {
		if hasWildcard(rule.APIGroups) || hasWildcard(rule.APIVersions) {
			continue
		}
		for _, g := range rule.APIGroups {
			for _, v := range rule.APIVersions {
				for _, r := range rule.Resources {
					if strings.ContainsAny(r, "*/") {
						continue
					}
					found := false
					for _, k := range knownKinds {
						if k.gvk.Group == g && k.gvk.Version == v && k.resource == r {
							seen[k.gvk], found = true, true
						}
					}
					if !found {
						unknown = append(unknown, schema.GroupVersion{Group: g, Version: v}.String()+" "+r)
					}
				}
			}
		}
	}
	for _, k := range knownKinds {
		if seen[k.gvk] {
			kinds = append(kinds, k)
		}
	}
	return kinds, unknown
}

func hasWildcard(s []string) bool {
	for _, x := range s {
		if strings.Contains(x, "*") {
			return true
		}
	}
	return false
}

// declType is the type of object for a kind, as the type checker builds it (declType in
// typechecking.go), but with the kind as the type name rather than a name made unique with
// the clock, so that messages read the same from one run to the next.
func declType(schemas resolver.SchemaResolver, gvk schema.GroupVersionKind) (*apiservercel.DeclType, error) {
	s, err := schemas.ResolveSchema(gvk)
	if err != nil {
		return nil, fmt.Errorf("the schema of %s: %w", gvk, err)
	}
	dt := common.SchemaDeclType(&celopenapi.Schema{Schema: s}, true)
	if dt == nil {
		return nil, fmt.Errorf("the schema of %s has no CEL type", gvk)
	}
	return dt.MaybeAssignTypeName(gvk.Kind), nil
}

// buildEnvSet is buildEnvSet of typechecking.go: the base environment, namespaceObject,
// request, object and oldObject (of the kind's type, or dyn), params (dyn: the exported
// policies have none, and its kind would need the API server's discovery) and the authorizer.
// It also declares authorizer.requestResource, which the API server's own environment has
// (createEnvForOpts in compile.go) and the type checker's lacks.
func buildEnvSet(hasParams bool, object *apiservercel.DeclType) (*environment.EnvSet, error) {
	namespaceType := plugincel.BuildNamespaceType()
	requestType := plugincel.BuildRequestType()
	objectType := cel.DynType
	declTypes := []*apiservercel.DeclType{namespaceType, requestType}
	if object != nil {
		objectType = object.CelType()
		declTypes = append(declTypes, object)
	}
	opts := []cel.EnvOption{
		cel.Variable(plugincel.NamespaceVarName, namespaceType.CelType()),
		cel.Variable(plugincel.RequestVarName, requestType.CelType()),
		cel.Variable(plugincel.ObjectVarName, objectType),
		cel.Variable(plugincel.OldObjectVarName, objectType),
		cel.Variable(plugincel.AuthorizerVarName, library.AuthorizerType),
		cel.Variable(plugincel.RequestResourceAuthorizerVarName, library.ResourceCheckType),
	}
	if hasParams {
		opts = append(opts, cel.Variable(plugincel.ParamsVarName, cel.DynType))
	}
	return environment.MustBaseEnvSet(environment.DefaultCompatibilityVersion()).Extend(environment.VersionedOptions{
		IntroducedVersion: version.MajorMinor(1, 0),
		EnvOptions:        opts,
		DeclTypes:         declTypes,
	})
}

// recorder is the plugincel.Compiler of the composition: it compiles as compile.go's
// CompileCELExpression does (the same checks, the same messages) in the environment above,
// and keeps the checked AST for the estimate.
type recorder struct {
	composited *plugincel.CompositedCompiler
	patchEnv   *cel.Env
	last       compiled
}

type compiled struct {
	env *cel.Env
	ast *cel.Ast
	err error
}

var _ plugincel.Compiler = (*recorder)(nil)

func (r *recorder) CompileCELExpression(accessor plugincel.ExpressionAccessor, options plugincel.OptionalVariableDeclarations, mode environment.Type) plugincel.CompilationResult {
	fail := func(errType apiservercel.ErrorType, detail string) plugincel.CompilationResult {
		err := &apiservercel.Error{Type: errType, Detail: detail}
		r.last = compiled{err: err}
		return plugincel.CompilationResult{Error: err, ExpressionAccessor: accessor}
	}
	env, err := r.env(options, mode)
	if err != nil {
		return fail(apiservercel.ErrorTypeInternal, fmt.Sprintf("unexpected error loading CEL environment: %v", err))
	}
	ast, issues := env.Compile(accessor.GetExpression())
	if issues != nil {
		return fail(apiservercel.ErrorTypeInvalid, "compilation failed: "+issues.String())
	}
	returnTypes := accessor.ReturnTypes()
	found := false
	for _, t := range returnTypes {
		if ast.OutputType().IsExactType(t) || cel.AnyType.IsExactType(t) {
			found = true
			break
		}
	}
	if !found {
		if len(returnTypes) == 1 {
			return fail(apiservercel.ErrorTypeInvalid, fmt.Sprintf("must evaluate to %v but got %v", returnTypes[0], ast.OutputType()))
		}
		return fail(apiservercel.ErrorTypeInvalid, fmt.Sprintf("must evaluate to one of %v but got %v", returnTypes, ast.OutputType()))
	}
	r.last = compiled{env: env, ast: ast}
	return plugincel.CompilationResult{ExpressionAccessor: accessor, OutputType: ast.OutputType()}
}

// env is the composition's environment (with variables), extended for mutations with what
// compile.go's hasPatchTypes adds.
func (r *recorder) env(options plugincel.OptionalVariableDeclarations, mode environment.Type) (*cel.Env, error) {
	env, err := r.composited.Env(mode)
	if err != nil || !options.HasPatchTypes {
		return env, err
	}
	if r.patchEnv == nil {
		r.patchEnv, err = env.Extend(
			common.ResolverEnvOption(&mutation.DynamicTypeResolver{}),
			environment.UnversionedLib(library.JSONPatch),
		)
	}
	return r.patchEnv, err
}

// estimate compiles a policy's expressions for one kind (object typed as dt; dyn when nil),
// variables first, and estimates the cost of each that compiles.
func estimate(p policy, kind string, dt *apiservercel.DeclType) ([]row, error) {
	envSet, err := buildEnvSet(p.hasParams, dt)
	if err != nil {
		return nil, fmt.Errorf("%s, %s: building the CEL environment: %w", p.name, kind, err)
	}
	composited, err := plugincel.NewCompositedCompilerForTypeChecking(envSet)
	if err != nil {
		return nil, fmt.Errorf("%s, %s: building the compiler: %w", p.name, kind, err)
	}
	rec := &recorder{composited: composited}
	composited.Compiler = rec
	estimator := &library.CostEstimator{SizeEstimator: schemaSizes{
		plugincel.ObjectVarName:    dt,
		plugincel.OldObjectVarName: dt,
	}}
	options := plugincel.OptionalVariableDeclarations{HasParams: p.hasParams, HasAuthorizer: true}
	// The order of the API server: variables are compiled and stored first (CompileAndStoreVariables).
	ordered := make([]expression, 0, len(p.expressions))
	for _, e := range p.expressions {
		if e.variable {
			ordered = append(ordered, e)
		}
	}
	for _, e := range p.expressions {
		if !e.variable {
			ordered = append(ordered, e)
		}
	}
	byField := map[string]row{}
	for _, e := range ordered {
		if e.variable {
			composited.CompileAndStoreVariable(e.accessor.(plugincel.NamedExpressionAccessor), options, environment.StoredExpressions)
		} else {
			o := options
			o.HasPatchTypes = e.patch
			rec.CompileCELExpression(e.accessor, o, environment.StoredExpressions)
		}
		r := row{policy: p.name, field: e.field, kind: kind, budget: e.budget, err: rec.last.err}
		if r.err == nil {
			if r.estimate, err = rec.last.env.EstimateCost(rec.last.ast, estimator); err != nil {
				r.err = fmt.Errorf("cost estimation failed: %w", err)
			}
		}
		byField[e.field] = r
	}
	rows := make([]row, 0, len(p.expressions))
	for _, e := range p.expressions {
		rows = append(rows, byField[e.field])
	}
	return rows, nil
}

// schemaSizes is the size estimator apiextensions-apiserver gives cel-go for CRD validation
// rules (sizeEstimator in pkg/apiserver/schema/cel/compilation.go), rooted at object and
// oldObject rather than self: it follows the node's field path through the DeclType of the
// schema and bounds the node by that type's MaxElements. Other roots, and nodes without a
// path, have no estimate (cel-go then assumes any size). The request and namespaceObject
// types are left out on purpose: they are written by hand without MaxElements, which would
// read as a bound of zero.
type schemaSizes map[string]*apiservercel.DeclType

func (s schemaSizes) EstimateSize(element checker.AstNode) *checker.SizeEstimate {
	path := element.Path()
	if len(path) == 0 {
		return nil
	}
	node := s[path[0]]
	if node == nil {
		return nil
	}
	for _, name := range path[1:] {
		switch name {
		case "@items", "@values":
			if node.ElemType == nil {
				return nil
			}
			node = node.ElemType
		case "@keys":
			if node.KeyType == nil {
				return nil
			}
			node = node.KeyType
		default:
			field, ok := node.Fields[name]
			if !ok || field.Type == nil {
				return nil
			}
			node = field.Type
		}
	}
	return &checker.SizeEstimate{Min: 0, Max: uint64(node.MaxElements)}
}

func (schemaSizes) EstimateCallCost(function, overloadID string, target *checker.AstNode, args []checker.AstNode) *checker.CallEstimate {
	return nil
}

// report writes the tables and the compile errors, and returns how many rows did not compile.
func report(out io.Writer, rows []row) int {
	w := bufio.NewWriter(out)
	defer w.Flush()
	fmt.Fprintf(w, "Kubernetes' limits (k8s.io/apiserver/pkg/apis/cel): per call (one expression) %s; per policy evaluation %s, its matchConditions %s. 2^64-1 is cel-go's ceiling: an estimate without bound.\n\n",
		num(celconfig.PerCallLimit), num(celconfig.RuntimeCELCostBudget), num(celconfig.RuntimeCELCostBudgetMatchConditions))
	fmt.Fprintln(w, "| policy | field | kind | estimated cost min | max | over the per-call limit? |")
	fmt.Fprintln(w, "|---|---|---|--:|--:|---|")
	type key struct{ policy, kind string }
	type total struct {
		match, rest   uint64
		failed, count int
	}
	totals := map[key]*total{}
	var order []key
	var failed []row
	for _, r := range rows {
		k := key{r.policy, r.kind}
		t := totals[k]
		if t == nil {
			t = &total{}
			totals[k] = t
			order = append(order, k)
		}
		t.count++
		if r.err != nil {
			t.failed++
			failed = append(failed, r)
			fmt.Fprintf(w, "| %s | %s | %s | does not compile | | |\n", r.policy, r.field, r.kind)
			continue
		}
		over := "no"
		if r.estimate.Max > celconfig.PerCallLimit {
			over = "yes"
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", r.policy, r.field, r.kind, num(r.estimate.Min), num(r.estimate.Max), over)
		if r.budget == matchBudget {
			t.match = addSaturating(t.match, r.estimate.Max)
		} else {
			t.rest = addSaturating(t.rest, r.estimate.Max)
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "Sums of the maximum estimates per policy and kind (an upper bound: a messageExpression runs only on a failure, a variable once however often it is read):\n\n")
	fmt.Fprintf(w, "| policy | kind | matchConditions | over %s? | the other expressions | over %s? | not compiled |\n", num(celconfig.RuntimeCELCostBudgetMatchConditions), num(celconfig.RuntimeCELCostBudget))
	fmt.Fprintln(w, "|---|---|--:|---|--:|---|--:|")
	for _, k := range order {
		t := totals[k]
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %d of %d |\n", k.policy, k.kind,
			num(t.match), yes(t.match > celconfig.RuntimeCELCostBudgetMatchConditions),
			num(t.rest), yes(t.rest > celconfig.RuntimeCELCostBudget), t.failed, t.count)
	}
	if len(failed) > 0 {
		fmt.Fprintf(w, "\nDo not compile:\n")
		for _, r := range failed {
			fmt.Fprintf(w, "\n- %s %s, %s:\n\n", r.policy, r.field, r.kind)
			for _, line := range strings.Split(strings.TrimRight(r.err.Error(), "\n"), "\n") {
				fmt.Fprintf(w, "      %s\n", line)
			}
		}
	}
	return len(failed)
}

func addSaturating(a, b uint64) uint64 {
	if a > math.MaxUint64-b {
		return math.MaxUint64
	}
	return a + b
}

func yes(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// num writes n with thousands separators, and cel-go's ceiling as 2^64-1.
func num(n uint64) string {
	if n == math.MaxUint64 {
		return "2^64-1"
	}
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
