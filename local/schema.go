package local

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// Schema is a compiled JSON Schema (draft 2020-12 unless the schema's
// $schema names another draft), validated by santhosh-tekuri/jsonschema.
// Ollama turns the same schema into a grammar; validating again here
// catches servers that ignore it and replies cut off mid-object.
//
// A schema is self-contained: $ref may point inside it ($defs,
// definitions) but never to a file or URL. "format" is an annotation, as
// the 2020-12 draft says, not an assertion.
type Schema struct {
	raw      json.RawMessage
	compiled *jsonschema.Schema
}

// schemaURL is the name every schema is compiled under; $ref targets
// outside it are refused by noLoader.
const schemaURL = "urn:synthkit:schema"

// noLoader refuses every external $ref: a user's schema must not make
// synthkit read files or fetch URLs.
type noLoader struct{}

func (noLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("external $ref %q: a schema must be self-contained (use $defs)", url)
}

// CompileSchema parses and compiles a JSON Schema object.
func CompileSchema(raw json.RawMessage) (*Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("schema is not a JSON object: %w", err)
	}
	if _, ok := doc.(map[string]any); !ok {
		return nil, fmt.Errorf("schema is not a JSON object: %s", shorten(strings.TrimSpace(string(raw)), 60))
	}
	c := jsonschema.NewCompiler()
	c.UseLoader(noLoader{})
	if err := c.AddResource(schemaURL, doc); err != nil {
		return nil, fmt.Errorf("couldn't load schema: %w", err)
	}
	compiled, err := c.Compile(schemaURL)
	if err != nil {
		return nil, fmt.Errorf("invalid schema: %w", err)
	}
	return &Schema{raw: raw, compiled: compiled}, nil
}

// MustCompileSchema is CompileSchema for schemas built into the program.
func MustCompileSchema(raw string) *Schema {
	s, err := CompileSchema(json.RawMessage(raw))
	if err != nil {
		panic(err)
	}
	return s
}

// Raw returns the schema as sent to the server.
func (s *Schema) Raw() json.RawMessage { return s.raw }

// Validate checks a decoded JSON value (from encoding/json into any; numbers
// as float64 or json.Number). The error names the first few violations with
// their place in the value, e.g. `$.tags[0]: want string, got number`.
func (s *Schema) Validate(v any) error {
	err := s.compiled.Validate(v)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	var leaves []*jsonschema.ValidationError
	collectLeaves(ve, &leaves)
	sort.SliceStable(leaves, func(i, j int) bool {
		return strings.Join(leaves[i].InstanceLocation, "\x00") < strings.Join(leaves[j].InstanceLocation, "\x00")
	})
	const show = 3
	msgs := make([]string, 0, show+1)
	for i, l := range leaves {
		if i == show {
			msgs = append(msgs, fmt.Sprintf("and %d more", len(leaves)-show))
			break
		}
		msgs = append(msgs, instancePath(l.InstanceLocation)+": "+describe(l.ErrorKind))
	}
	return errors.New(strings.Join(msgs, "; "))
}

func collectLeaves(e *jsonschema.ValidationError, out *[]*jsonschema.ValidationError) {
	if len(e.Causes) == 0 {
		*out = append(*out, e)
		return
	}
	for _, c := range e.Causes {
		collectLeaves(c, out)
	}
}

// instancePath writes a location as $.field[3].sub.
func instancePath(loc []string) string {
	var b strings.Builder
	b.WriteString("$")
	for _, tok := range loc {
		if _, err := strconv.Atoi(tok); err == nil {
			b.WriteString("[" + tok + "]")
		} else {
			b.WriteString("." + tok)
		}
	}
	return b.String()
}

var englishPrinter = message.NewPrinter(language.English)

// describe says what is wrong in the words synthkit's messages use; kinds
// not listed keep the validator's own text.
func describe(k jsonschema.ErrorKind) string {
	switch k := k.(type) {
	case *kind.Type:
		return fmt.Sprintf("want %s, got %s", strings.Join(k.Want, " or "), k.Got)
	case *kind.Required:
		return fmt.Sprintf("missing required field %s", joinQuoted(k.Missing))
	case *kind.AdditionalProperties:
		return fmt.Sprintf("unexpected field %s", joinQuoted(k.Properties))
	case *kind.Enum:
		return fmt.Sprintf("%s is not one of %s", jsonText(k.Got), jsonText(k.Want))
	case *kind.Const:
		return fmt.Sprintf("%s is not %s", jsonText(k.Got), jsonText(k.Want))
	case *kind.Minimum:
		return fmt.Sprintf("%s is below the minimum %s", ratText(k.Got), ratText(k.Want))
	case *kind.Maximum:
		return fmt.Sprintf("%s is above the maximum %s", ratText(k.Got), ratText(k.Want))
	case *kind.MinLength:
		return fmt.Sprintf("string shorter than %d characters (%d)", k.Want, k.Got)
	case *kind.MaxLength:
		return fmt.Sprintf("string longer than %d characters (%d)", k.Want, k.Got)
	case *kind.MinItems:
		return fmt.Sprintf("fewer than %d items (%d)", k.Want, k.Got)
	case *kind.MaxItems:
		return fmt.Sprintf("more than %d items (%d)", k.Want, k.Got)
	case *kind.Pattern:
		return fmt.Sprintf("%s does not match the pattern %q", jsonText(k.Got), k.Want)
	}
	return k.LocalizedString(englishPrinter)
}

func ratText(r *big.Rat) string {
	if r.IsInt() {
		return r.Num().String()
	}
	f, _ := r.Float64()
	return strconv.FormatFloat(f, 'g', -1, 64)
}

func joinQuoted(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	return strings.Join(q, ", ")
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return shorten(string(b), 60)
}
