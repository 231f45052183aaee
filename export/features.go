package export

import (
	"fmt"
	"strings"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

// feature is one column as the `datasets` library describes it in a card's
// dataset_info: a scalar dtype, a list (of a scalar or of struct fields) or
// a struct. It is derived from the Parquet schema, so the card always
// matches the files.
type feature struct {
	Name      string
	Dtype     string    // scalar
	ListDtype string    // list of scalar
	List      []feature // list of struct
	Struct    []feature
}

func featuresOf(s *parquet.Schema) []feature {
	var out []feature
	for _, f := range s.Fields() {
		out = append(out, featureOf(f.Name(), f))
	}
	return out
}

func featureOf(name string, n parquet.Node) feature {
	if isLogical[*format.ListType](n) {
		// group (LIST) { repeated group list { element } }
		elem := n.Fields()[0].Fields()[0]
		if elem.Leaf() {
			return feature{Name: name, ListDtype: dtypeOf(elem)}
		}
		return feature{Name: name, List: fieldsOf(elem)}
	}
	if !n.Leaf() {
		return feature{Name: name, Struct: fieldsOf(n)}
	}
	return feature{Name: name, Dtype: dtypeOf(n)}
}

func fieldsOf(n parquet.Node) []feature {
	var out []feature
	for _, f := range n.Fields() {
		out = append(out, featureOf(f.Name(), f))
	}
	return out
}

func dtypeOf(n parquet.Node) string {
	switch n.Type().Kind() {
	case parquet.Boolean:
		return "bool"
	case parquet.Int32:
		return "int32"
	case parquet.Int64:
		return "int64"
	case parquet.Float:
		return "float32"
	case parquet.Double:
		return "float64"
	case parquet.ByteArray:
		if isLogical[*format.StringType](n) {
			return "string"
		}
		return "binary"
	}
	panic(fmt.Sprintf("export: no datasets dtype for parquet kind %v", n.Type().Kind()))
}

// writeFeaturesYAML renders features in the layout `datasets` writes.
func writeFeaturesYAML(b *strings.Builder, fs []feature, indent string) {
	for _, f := range fs {
		fmt.Fprintf(b, "%s- name: %s\n", indent, yamlString(f.Name))
		switch {
		case f.Dtype != "":
			fmt.Fprintf(b, "%s  dtype: %s\n", indent, f.Dtype)
		case f.ListDtype != "":
			fmt.Fprintf(b, "%s  list: %s\n", indent, f.ListDtype)
		case f.List != nil:
			fmt.Fprintf(b, "%s  list:\n", indent)
			writeFeaturesYAML(b, f.List, indent+"  ")
		default:
			fmt.Fprintf(b, "%s  struct:\n", indent)
			writeFeaturesYAML(b, f.Struct, indent+"  ")
		}
	}
}

func isLogical[T format.LogicalTypeValue](n parquet.Node) bool {
	lt := n.Type().LogicalType()
	if lt == nil {
		return false
	}
	_, ok := lt.Value.(T)
	return ok
}
