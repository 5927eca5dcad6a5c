// Command kubectlyaml reads manifest files as kubectl reads them (`kubectl apply -f`,
// `create -f`) and prints, per file, the JSON kubectl would send for each of its documents:
// the reference of the differential test of our YAML reader (crates/yaml/tests/kubectl.rs).
//
//	kubectlyaml FILE...
//
// prints one line of JSON a file:
//
//	{"file": FILE, "documents": [{"json": DOC, "duplicate": KEY?}...], "error": MESSAGE?}
//
// The reading is kubectl's own code, called as k8s.io/cli-runtime's StreamVisitor calls it
// (pkg/resource/visitor.go): a stream that looks like JSON (its first non-blank byte a `{`)
// goes through k8s.io/apimachinery's YAMLOrJSONDecoder (JSON as written); otherwise each
// document that apimachinery's YAMLReader splits off (at lines starting with `---`) is
// converted by sigs.k8s.io/yaml (YAML 1.1 scalars as go-yaml v2 resolves them, then
// encoding/json) into a runtime.RawExtension, exactly as YAMLToJSONDecoder.Decode does.
// Empty documents and `null` are skipped, as the visitor skips them; the first error ends the
// file, as it ends kubectl's reading of it.
//
// "duplicate" names a key written twice in one mapping (after YAML 1.1 resolution and the
// conversion of keys to JSON strings, so `1` and `"1"`, or `yes` and `true`, are the same
// key): kubectl keeps one of them silently (for YAML the last, for keys that only meet as JSON
// strings either), and our reader refuses such a document. Merge keys (`<<`) are not
// duplicates: a key after a merge overrides it. "ambiguous" names a JSON member that two
// different keys of one mapping give (`1` merged, `"1"` written): which one kubectl keeps
// depends on Go's map order, so it is no reference.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"go.yaml.in/yaml/v2"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	sigsyaml "sigs.k8s.io/yaml"
)

type document struct {
	JSON      json.RawMessage `json:"json"`
	Duplicate *string         `json:"duplicate,omitempty"`
	Ambiguous *string         `json:"ambiguous,omitempty"`
}

type result struct {
	File      string     `json:"file"`
	Documents []document `json:"documents"`
	Error     *string    `json:"error,omitempty"`
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: kubectlyaml FILE...")
		os.Exit(2)
	}
	out := bufio.NewWriter(os.Stdout)
	enc := json.NewEncoder(out)
	for _, file := range os.Args[1:] {
		data, err := os.ReadFile(file)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		r := read(data)
		r.File = file
		if err := enc.Encode(r); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
	}
	if err := out.Flush(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
}

// read is StreamVisitor.Visit without the mapping to API types.
func read(data []byte) (r result) {
	r.Documents = []document{}
	fail := func(err error) result {
		msg := err.Error()
		r.Error = &msg
		return r
	}
	keep := func(raw []byte, dup *string, ambiguous *string) {
		raw = bytes.TrimSpace(raw)
		if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
			return
		}
		r.Documents = append(r.Documents, document{JSON: raw, Duplicate: dup, Ambiguous: ambiguous})
	}
	_, _, mightBeJSON := utilyaml.GuessJSONStream(bytes.NewReader(data), 4096)
	if mightBeJSON {
		// A text that is not JSON after all is read as YAML by the decoder (from the start, or
		// after its first object), so its key written twice is found in its YAML documents.
		var dup, ambiguous *string
		if !json.Valid(data) {
			dup, ambiguous = yamlDuplicates(data)
		}
		d := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
		for {
			ext := runtime.RawExtension{}
			if err := d.Decode(&ext); err != nil {
				if err == io.EOF {
					return r
				}
				return fail(err)
			}
			if json.Valid(data) {
				dup = jsonDuplicate(ext.Raw)
			}
			keep(ext.Raw, dup, ambiguous)
		}
	}
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for {
		chunk, err := reader.Read()
		if err != nil && err != io.EOF {
			return fail(err)
		}
		if len(chunk) != 0 {
			// YAMLToJSONDecoder.Decode: sigs.k8s.io/yaml's Unmarshal into the RawExtension.
			ext := runtime.RawExtension{}
			if uerr := sigsyaml.Unmarshal(chunk, &ext); uerr != nil {
				return fail(uerr)
			}
			keep(ext.Raw, yamlDuplicate(chunk), yamlAmbiguous(chunk))
		}
		if err == io.EOF {
			return r
		}
	}
}

// yamlDuplicates is the first key written twice in the YAML documents of a text, and the
// first member two keys give.
func yamlDuplicates(data []byte) (dup, ambiguous *string) {
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for {
		chunk, err := reader.Read()
		if len(chunk) != 0 {
			if dup == nil {
				dup = yamlDuplicate(chunk)
			}
			if ambiguous == nil {
				ambiguous = yamlAmbiguous(chunk)
			}
		}
		if err != nil {
			return dup, ambiguous
		}
	}
}

// yamlAmbiguous is the first JSON member that two keys of one mapping give, in the document
// as go-yaml v2 decodes it (merges applied).
func yamlAmbiguous(doc []byte) *string {
	var v interface{}
	if err := yaml.Unmarshal(doc, &v); err != nil {
		return nil
	}
	return ambiguousIn(v)
}

func ambiguousIn(v interface{}) *string {
	switch v := v.(type) {
	case []interface{}:
		for _, item := range v {
			if a := ambiguousIn(item); a != nil {
				return a
			}
		}
	case map[interface{}]interface{}:
		names := map[string]bool{}
		for k, item := range v {
			name, ok := keyString(k)
			if ok && names[name] {
				return &name
			}
			names[name] = true
			if a := ambiguousIn(item); a != nil {
				return a
			}
		}
	}
	return nil
}

// ordered is a YAML node decoded by go-yaml v2 with every mapping as a MapSlice (its keys in
// order, none dropped; merged mappings are left out, which is what a duplicate check wants).
type ordered struct{ v interface{} }

func (o *ordered) UnmarshalYAML(unmarshal func(interface{}) error) error {
	var m yaml.MapSlice
	if err := unmarshal(&m); err == nil {
		o.v = m
		return nil
	}
	var s []ordered
	if err := unmarshal(&s); err == nil {
		o.v = s
		return nil
	}
	return unmarshal(&o.v)
}

// yamlDuplicate is the first key written twice in one mapping of a YAML document.
func yamlDuplicate(doc []byte) *string {
	var o ordered
	if err := yaml.Unmarshal(doc, &o); err != nil {
		return nil
	}
	return duplicateIn(o.v)
}

func duplicateIn(v interface{}) *string {
	switch v := v.(type) {
	case ordered:
		return duplicateIn(v.v)
	case []ordered:
		for _, item := range v {
			if d := duplicateIn(item); d != nil {
				return d
			}
		}
	case []interface{}:
		for _, item := range v {
			if d := duplicateIn(item); d != nil {
				return d
			}
		}
	case yaml.MapSlice:
		seen := map[string]bool{}
		for _, item := range v {
			k, ok := keyString(item.Key)
			if ok && seen[k] {
				return &k
			}
			seen[k] = true
			if d := duplicateIn(item.Value); d != nil {
				return d
			}
		}
	}
	return nil
}

// keyString is the JSON name sigs.k8s.io/yaml gives a key (convertToJSONableObject).
func keyString(k interface{}) (string, bool) {
	switch k := k.(type) {
	case string:
		return k, true
	case int:
		return strconv.Itoa(k), true
	case int64:
		return strconv.FormatInt(k, 10), true
	case float64:
		s := strconv.FormatFloat(k, 'g', -1, 32)
		switch s {
		case "+Inf":
			s = ".inf"
		case "-Inf":
			s = "-.inf"
		case "NaN":
			s = ".nan"
		}
		return s, true
	case bool:
		return strconv.FormatBool(k), true
	}
	return "", false
}

// jsonDuplicate is the first member name given twice in one object of a JSON text.
func jsonDuplicate(raw []byte) *string {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	dup, err := jsonValue(d)
	if err != nil {
		return nil
	}
	return dup
}

func jsonValue(d *json.Decoder) (*string, error) {
	t, err := d.Token()
	if err != nil {
		return nil, err
	}
	delim, ok := t.(json.Delim)
	if !ok {
		return nil, nil
	}
	var found *string
	seen := map[string]bool{}
	for d.More() {
		if delim == '{' {
			t, err := d.Token()
			if err != nil {
				return nil, err
			}
			k, ok := t.(string)
			if !ok {
				return nil, errors.New("a member name that is not a string")
			}
			if seen[k] && found == nil {
				found = &k
			}
			seen[k] = true
		}
		dup, err := jsonValue(d)
		if err != nil {
			return nil, err
		}
		if found == nil {
			found = dup
		}
	}
	if _, err := d.Token(); err != nil {
		return nil, err
	}
	return found, nil
}
