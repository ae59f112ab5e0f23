package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/encoding/protojson"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
)

// A deployment file holds DeployWorkflowRequest documents (definition, triggers, config,
// draft), in YAML or JSON as Connect's JSON writes them (camelCase or the proto's snake_case
// names, enums by name, durations as "60s"): examples/deploy.json is one. A YAML file may
// hold several documents separated by "---"; a JSON file several values one after the
// other. A field the API does not have is an error naming it.

// document is one deployment read from a file.
type document struct {
	// source says where it was read: "workflows/hello.yaml" or "workflows/all.yaml:12" (the
	// line its document starts on, for files of several documents).
	source  string
	request *v1.DeployWorkflowRequest
}

// name is how the command line names the document's deployment: its workflow id, where it
// came from.
func (d *document) name() string {
	return d.request.GetDefinition().GetId() + " (" + d.source + ")"
}

// manifestExts are the extensions deploy reads in a directory.
var manifestExts = []string{".yaml", ".yml", ".json"}

// readManifests reads the documents of every path: files, directories (their .yaml, .yml and
// .json files in name order; subdirectories too with recursive) and "-" for stdin, in the
// order given. Any error is a usageError naming the file (and line).
func readManifests(paths []string, recursive bool, stdin io.Reader) ([]*document, error) {
	var docs []*document
	for _, path := range paths {
		if path == "-" {
			b, err := io.ReadAll(stdin)
			if err != nil {
				return nil, fmt.Errorf("read stdin: %w", err)
			}
			d, err := parseManifest("stdin", b, false)
			if err != nil {
				return nil, err
			}
			docs = append(docs, d...)
			continue
		}
		files, err := manifestFiles(path, recursive)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			b, err := os.ReadFile(f) //nolint:gosec // the operator names the files to deploy
			if err != nil {
				return nil, usagef("%v", err)
			}
			d, err := parseManifest(f, b, strings.EqualFold(filepath.Ext(f), ".json"))
			if err != nil {
				return nil, err
			}
			docs = append(docs, d...)
		}
	}
	if len(docs) == 0 {
		return nil, usagef("%s: no deployment found (a directory's .yaml, .yml and .json files are read)", strings.Join(paths, ", "))
	}
	return docs, nil
}

// manifestFiles is path itself when it is a file, else the files of the directory deploy
// reads, in name order.
func manifestFiles(path string, recursive bool) ([]string, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, usagef("%v", err)
	}
	if !info.IsDir() {
		return []string{path}, nil
	}
	var files []string
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != path && (!recursive || strings.HasPrefix(d.Name(), ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if slices.Contains(manifestExts, strings.ToLower(filepath.Ext(p))) && !strings.HasPrefix(d.Name(), ".") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, usagef("%v", err)
	}
	return files, nil
}

// parseManifest reads the documents of one file.
func parseManifest(name string, b []byte, isJSON bool) ([]*document, error) {
	type raw struct {
		line int
		json []byte
	}
	var raws []raw
	if isJSON {
		dec := json.NewDecoder(bytes.NewReader(b))
		for {
			var v json.RawMessage
			err := dec.Decode(&v)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, usagef("%s: %v", name, err)
			}
			raws = append(raws, raw{line: 1 + bytes.Count(b[:dec.InputOffset()-int64(len(v))], []byte("\n")), json: v})
		}
	} else {
		dec := yaml.NewDecoder(bytes.NewReader(b))
		for {
			var n yaml.Node
			err := dec.Decode(&n)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, usagef("%s: %v", name, strings.TrimPrefix(err.Error(), "yaml: "))
			}
			var v any
			if err := n.Decode(&v); err != nil {
				return nil, usagef("%s:%d: %v", name, n.Line, strings.TrimPrefix(err.Error(), "yaml: "))
			}
			if v == nil {
				continue // an empty document: "---" at the start or end, comments only
			}
			j, err := json.Marshal(v)
			if err != nil {
				return nil, usagef("%s:%d: not a mapping of field names to values: %v", name, n.Line, err)
			}
			raws = append(raws, raw{line: n.Line, json: j})
		}
	}
	docs := make([]*document, 0, len(raws))
	for _, r := range raws {
		source := name
		if len(raws) > 1 {
			source = fmt.Sprintf("%s:%d", name, r.line)
		}
		if !bytes.HasPrefix(bytes.TrimSpace(r.json), []byte("{")) {
			return nil, usagef("%s: a deployment is a mapping with definition, triggers and config", source)
		}
		req := &v1.DeployWorkflowRequest{}
		if err := (protojson.UnmarshalOptions{DiscardUnknown: false}).Unmarshal(r.json, req); err != nil {
			return nil, usagef("%s: %s", source, protojsonError(err))
		}
		docs = append(docs, &document{source: source, request: req})
	}
	return docs, nil
}

// protojsonPosition is the "(line 1:15)" of protojson's errors: a position in the JSON made
// from the document, which is not the file's.
var protojsonPosition = regexp.MustCompile(`\s*\(line \d+:\d+\)`)

// protojsonError is protojson's error without its "proto:" prefix and position:
// `unknown field "workflow"`, `invalid value for enum field overlapPolicy: "SKIPP"`.
func protojsonError(err error) string {
	s := strings.TrimPrefix(err.Error(), "proto:")
	s = protojsonPosition.ReplaceAllString(s, "")
	return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(s), ":"))
}
