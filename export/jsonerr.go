package export

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
)

// plainJSON rewords a decoding error of encoding/json that names Go types
// ("cannot unmarshal string into Go struct field SFT.messages of type
// []export.Message") as the field and the kinds a user knows: `field
// "messages" is a string, want a list`. A journal line or run.json that
// another version (or a person) wrote can fail this way. Other errors are
// returned as they are.
func plainJSON(err error) error {
	var te *json.UnmarshalTypeError
	if !errors.As(err, &te) {
		return err
	}
	what := "the value"
	if te.Field != "" {
		what = fmt.Sprintf("field %q", te.Field)
	}
	got := map[string]string{"string": "a string", "number": "a number", "array": "a list",
		"object": "an object", "bool": "true or false"}[te.Value]
	if got == "" {
		got = te.Value // "number 1e400"
		if n, ok := strings.CutPrefix(got, "number "); ok {
			return fmt.Errorf("%s: the number %s is out of range", what, n)
		}
	}
	return fmt.Errorf("%s is %s, want %s", what, got, kindWords(te.Type))
}

func kindWords(t reflect.Type) string {
	if t == nil {
		return "another kind of value"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return "another kind of value"
}

// jsonLine is the line of data at a decoding error's offset, or 0.
func jsonLine(data []byte, err error) int {
	var off int64 = -1
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
	}
	if off < 0 || off > int64(len(data)) {
		return 0
	}
	return 1 + bytes.Count(data[:off], []byte{'\n'})
}
