package ollamatest

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
)

// This file is a minimal GGUF v3 writer: enough metadata types for a llama
// model and F32 tensors only. Format summary:
//
//	header:  "GGUF" | version u32 | tensor count u64 | kv count u64
//	kv:      key (string) | value type u32 | value
//	tensors: name (string) | n_dims u32 | dims u64… (innermost first) | type u32 | offset u64
//	padding to ggufAlignment, then tensor data, each tensor aligned
//
// Strings are a u64 byte length followed by the bytes; arrays are an element
// type u32, a u64 count and the elements.

const (
	ggufVersion   = 3
	ggufAlignment = 32 // the default of general.alignment

	ggufTypeUint32  = 4
	ggufTypeInt32   = 5
	ggufTypeFloat32 = 6
	ggufTypeBool    = 7
	ggufTypeString  = 8
	ggufTypeArray   = 9

	ggmlTypeF32 = 0
)

// ggufKV is one metadata entry. Value is one of uint32, int32, float32, bool,
// string, []string, []float32 or []int32.
type ggufKV struct {
	Key   string
	Value any
}

// ggufTensor is one F32 tensor. Dims lists the innermost (contiguous)
// dimension first, as ggml does: a matrix mapping n_in to n_out features is
// {n_in, n_out}, stored as n_out rows of n_in floats.
type ggufTensor struct {
	Name string
	Dims []uint64
	Data []float32
}

func (t ggufTensor) size() uint64 { return uint64(len(t.Data)) * 4 }

// writeGGUF writes kvs and tensors, in the given order, as a GGUF v3 file.
func writeGGUF(w io.Writer, kvs []ggufKV, tensors []ggufTensor) error {
	for _, t := range tensors {
		n := uint64(1)
		for _, d := range t.Dims {
			n *= d
		}
		if n != uint64(len(t.Data)) {
			return fmt.Errorf("tensor %q: dims %v need %d values, have %d", t.Name, t.Dims, n, len(t.Data))
		}
	}

	bw := bufio.NewWriter(w)
	e := &ggufEncoder{w: &countingWriter{w: bw}}
	e.raw([]byte("GGUF"))
	e.u32(ggufVersion)
	e.u64(uint64(len(tensors)))
	e.u64(uint64(len(kvs)))
	for _, kv := range kvs {
		e.str(kv.Key)
		if err := e.value(kv.Value); err != nil {
			return fmt.Errorf("kv %q: %w", kv.Key, err)
		}
	}

	var offset uint64
	for _, t := range tensors {
		e.str(t.Name)
		e.u32(uint32(len(t.Dims)))
		for _, d := range t.Dims {
			e.u64(d)
		}
		e.u32(ggmlTypeF32)
		e.u64(offset)
		offset = alignUp(offset+t.size(), ggufAlignment)
	}

	e.pad()
	for _, t := range tensors {
		for _, f := range t.Data {
			e.u32(math.Float32bits(f))
		}
		e.pad()
	}
	if e.err != nil {
		return fmt.Errorf("couldn't write gguf: %w", e.err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("couldn't write gguf: %w", err)
	}
	return nil
}

func alignUp(n, a uint64) uint64 { return (n + a - 1) / a * a }

type countingWriter struct {
	w io.Writer
	n uint64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += uint64(n)
	return n, err
}

// ggufEncoder remembers the first write error so callers can check once.
type ggufEncoder struct {
	w   *countingWriter
	err error
	buf [8]byte
}

func (e *ggufEncoder) raw(p []byte) {
	if e.err == nil {
		_, e.err = e.w.Write(p)
	}
}

func (e *ggufEncoder) u32(v uint32) {
	binary.LittleEndian.PutUint32(e.buf[:4], v)
	e.raw(e.buf[:4])
}

func (e *ggufEncoder) u64(v uint64) {
	binary.LittleEndian.PutUint64(e.buf[:8], v)
	e.raw(e.buf[:8])
}

func (e *ggufEncoder) str(s string) {
	e.u64(uint64(len(s)))
	e.raw([]byte(s))
}

func (e *ggufEncoder) pad() {
	if n := alignUp(e.w.n, ggufAlignment) - e.w.n; n > 0 {
		e.raw(make([]byte, n))
	}
}

func (e *ggufEncoder) value(v any) error {
	switch v := v.(type) {
	case uint32:
		e.u32(ggufTypeUint32)
		e.u32(v)
	case int32:
		e.u32(ggufTypeInt32)
		e.u32(uint32(v))
	case float32:
		e.u32(ggufTypeFloat32)
		e.u32(math.Float32bits(v))
	case bool:
		e.u32(ggufTypeBool)
		if v {
			e.raw([]byte{1})
		} else {
			e.raw([]byte{0})
		}
	case string:
		e.u32(ggufTypeString)
		e.str(v)
	case []string:
		e.u32(ggufTypeArray)
		e.u32(ggufTypeString)
		e.u64(uint64(len(v)))
		for _, s := range v {
			e.str(s)
		}
	case []float32:
		e.u32(ggufTypeArray)
		e.u32(ggufTypeFloat32)
		e.u64(uint64(len(v)))
		for _, f := range v {
			e.u32(math.Float32bits(f))
		}
	case []int32:
		e.u32(ggufTypeArray)
		e.u32(ggufTypeInt32)
		e.u64(uint64(len(v)))
		for _, i := range v {
			e.u32(uint32(i))
		}
	default:
		return fmt.Errorf("unsupported gguf value type %T", v)
	}
	return nil
}
