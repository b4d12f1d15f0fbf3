// Golden gob streams for packages/node/src/netrpc-gob-codec-go.test.ts (standard library only).
// Usage: go-golden encode    -> writes a gob stream of the fixed values below to stdout
//        go-golden decode    -> reads a stream of the same types from stdin, prints one JSON line per value
//        go-golden iface     -> writes a value with an interface field (the TS decoder rejects it)
package main

import (
	"encoding/gob"
	"encoding/json"
	"fmt"
	"os"
	"time"
)

type Inner struct {
	Name string
	Tags []string
}

type All struct {
	B      bool
	I      int
	I8     int8
	I64    int64
	U      uint
	U64    uint64
	F32    float32
	F      float64
	S      string
	Bs     []byte
	C      complex128 `json:"-"`
	Ints   []int
	Arr    [3]int
	M      map[string]int
	MI     map[int]string
	Nested Inner
	PN     *Inner
	Inners []Inner
	MinI   int64
	private int
}

type Node struct {
	V    int
	Next *Node
}

type WithIface struct {
	X interface{}
}

func values() []interface{} {
	all := All{
		B: true, I: -129, I8: -8, I64: 1 << 40, U: 256, U64: 1<<64 - 1, F32: 1.5, F: 17.0, S: "héllo",
		Bs: []byte{0, 1, 255}, C: complex(1, -2), Ints: []int{1, -1, 1000000}, Arr: [3]int{0, 5, 0},
		M: map[string]int{"a": 1}, MI: map[int]string{-3: "x"}, Nested: Inner{Name: "n", Tags: []string{"t1", "t2"}},
		PN: &Inner{Name: "p"}, Inners: []Inner{{Name: "i0"}, {}}, MinI: -1 << 63, private: 9,
	}
	list := &Node{V: 1, Next: &Node{V: 2, Next: &Node{V: 3}}}
	return []interface{}{
		all, 42, "top", []int{3, 2, 1}, map[string]float64{"pi": 3.25}, list, All{}, struct{}{}, [2]string{"a", ""},
		-1, uint(0), 0.1, true,
	}
}

func main() {
	switch os.Args[1] {
	case "encode":
		enc := gob.NewEncoder(os.Stdout)
		for _, v := range values() {
			if err := enc.Encode(v); err != nil {
				fail(err)
			}
		}
		if err := enc.Encode(time.Unix(1700000000, 5).UTC()); err != nil {
			fail(err)
		}
	case "iface":
		gob.Register(Inner{})
		if err := gob.NewEncoder(os.Stdout).Encode(WithIface{X: Inner{Name: "i"}}); err != nil {
			fail(err)
		}
	case "decode":
		dec := gob.NewDecoder(os.Stdin)
		var all, zero All
		var n int
		var s string
		var ints []int
		var m map[string]float64
		var list Node
		var empty struct{}
		var arr [2]string
		var neg int
		var u uint
		var f float64
		var b bool
		targets := []interface{}{&all, &n, &s, &ints, &m, &list, &zero, &empty, &arr, &neg, &u, &f, &b}
		out := json.NewEncoder(os.Stdout)
		for i, t := range targets {
			if err := dec.Decode(t); err != nil {
				fail(fmt.Errorf("value %d: %w", i, err))
			}
			switch v := t.(type) {
			case *All:
				// complex128 has no JSON form: print it beside the struct.
				out.Encode(map[string]interface{}{"value": v, "c": fmt.Sprint(v.C)})
			default:
				out.Encode(map[string]interface{}{"value": t})
			}
		}
	default:
		fail(fmt.Errorf("unknown mode %q", os.Args[1]))
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
