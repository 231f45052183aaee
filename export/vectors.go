package export

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"
	"unicode/utf8"
)

// Vector store layout: vectors/00000001.vec, … Each record is
//
//	u32 n | u16 len(unit) | unit | u32 dim | dim × f32 | u32 crc
//
// little endian, where n counts the bytes from the unit length to the last
// float and crc is the CRC-32C of n and those bytes. Torn tails are handled
// like the journal's.
const (
	vectorsDir    = "vectors"
	vectorsExt    = ".vec"
	maxVectorDim  = 1 << 16
	maxUnitIDSize = 512
)

func encodeVector(unit string, v []float32) []byte {
	n := 2 + len(unit) + 4 + 4*len(v)
	b := make([]byte, 0, 4+n+4)
	b = binary.LittleEndian.AppendUint32(b, uint32(n))
	b = binary.LittleEndian.AppendUint16(b, uint16(len(unit)))
	b = append(b, unit...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(v)))
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// ReadVectors calls fn for every stored embedding in dir's vector store, in
// the order they were added; a unit stored twice is reported once (first
// wins). A torn tail from a crash is skipped. fn must not keep v.
func ReadVectors(dir string, fn func(unit string, v []float32) error) error {
	_, _, err := scanVectors(filepath.Join(dir, vectorsDir), false, fn)
	return err
}

// scanVectors calls fn for every record; lastEnd is where the last segment
// ends on a whole record (after a repair, its new size).
func scanVectors(dir string, repair bool, fn func(string, []float32) error) (lastSeq int, lastEnd int64, err error) {
	seqs, err := listSegments(dir, vectorsExt)
	if err != nil {
		return 0, 0, err
	}
	seen := make(map[unitKey]struct{})
	var v []float32
	for i, seq := range seqs {
		lastSeq = seq
		path := filepath.Join(dir, segmentName(seq, vectorsExt))
		torn, err := scanVectorSegment(path, i == len(seqs)-1, func(unit string, raw []byte) error {
			k := keyOf(unit)
			if _, dup := seen[k]; dup {
				return nil
			}
			seen[k] = struct{}{}
			if fn == nil {
				return nil
			}
			v = v[:0]
			for j := 0; j+4 <= len(raw); j += 4 {
				v = append(v, math.Float32frombits(binary.LittleEndian.Uint32(raw[j:])))
			}
			return fn(unit, v)
		})
		if err != nil {
			return lastSeq, 0, err
		}
		lastEnd = torn.end - torn.bytes
		if torn.bytes > 0 && repair {
			if err := truncateTail(path, torn.at); err != nil {
				return lastSeq, 0, err
			}
		}
	}
	return lastSeq, lastEnd, nil
}

// tornTail is a torn vector record at the end of the last segment (bytes
// from at) of a segment of end bytes.
type tornTail struct{ at, bytes, end int64 }

func scanVectorSegment(path string, last bool, fn func(unit string, raw []byte) error) (tornTail, error) {
	f, err := os.Open(path)
	if err != nil {
		return tornTail{}, fmt.Errorf("open vector segment %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return tornTail{}, fmt.Errorf("stat vector segment %s: %w", path, err)
	}
	size := st.Size()
	r := bufio.NewReaderSize(f, 1<<20)
	var off int64
	var rec []byte
	for off < size {
		bad := func() (tornTail, error) {
			if last && size-off <= tornWindow {
				return tornTail{at: off, bytes: size - off, end: size}, nil
			}
			return tornTail{}, fmt.Errorf("vector segment %s is damaged at byte %d (not a torn write from a crash)", path, off)
		}
		var nb [4]byte
		if _, err := io.ReadFull(r, nb[:]); err != nil {
			return bad()
		}
		n := binary.LittleEndian.Uint32(nb[:])
		if n < 6 || int64(n)+8 > size-off || n > 2+maxUnitIDSize+4+4*maxVectorDim {
			return bad()
		}
		rec = append(rec[:0], nb[:]...)
		rec = append(rec, make([]byte, n+4)...)
		if _, err := io.ReadFull(r, rec[4:]); err != nil {
			return bad()
		}
		body := rec[:4+n]
		if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(rec[4+n:]) {
			return bad()
		}
		ul := int(binary.LittleEndian.Uint16(body[4:]))
		if 6+ul+4 > len(body) {
			return bad()
		}
		unit := string(body[6 : 6+ul])
		dim := int(binary.LittleEndian.Uint32(body[6+ul:]))
		raw := body[6+ul+4:]
		if len(raw) != 4*dim {
			return bad()
		}
		if err := fn(unit, raw); err != nil {
			return tornTail{}, err
		}
		off += int64(len(rec))
	}
	return tornTail{end: off}, nil
}

func validUnit(unit string) error {
	switch {
	case unit == "":
		return errors.New("unit id is empty")
	case len(unit) > maxUnitIDSize:
		return fmt.Errorf("unit id %.40q… is longer than %d bytes", unit, maxUnitIDSize)
	case !utf8.ValidString(unit):
		return fmt.Errorf("unit id %q is not valid UTF-8", unit)
	}
	for _, r := range unit {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("unit id %q contains a control character", unit)
		}
	}
	return nil
}
