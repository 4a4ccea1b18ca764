package pth

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"
)

// The values the restricted unpickler builds. Nothing else can appear:
// every opcode either makes one of these or is refused.
type (
	// tuple is a Python tuple.
	tuple []any
	// list is a Python list (a pointer, since APPEND mutates it in place
	// while the memo may hold it too).
	list struct{ items []any }
	// dict is a Python dict or collections.OrderedDict, in insertion
	// order.
	dict struct {
		keys  []any
		vals  []any
		index map[any]int
	}
	// global is an allowed global: a storage type or an allowed function.
	global struct{ module, name string }
	// bytesVal is a Python bytes object.
	bytesVal []byte
)

// funcs are the callables REDUCE accepts, by "module.name".
const (
	fnOrderedDict    = "collections.OrderedDict"
	fnRebuildTensor  = "torch._utils._rebuild_tensor_v2"
	fnRebuildParam   = "torch._utils._rebuild_parameter"
	fnRebuildParamSt = "torch._utils._rebuild_parameter_with_state"
)

// storageTypes maps the torch storage classes a state_dict uses to their
// element type.
var storageTypes = map[string]dtype{
	"torch.FloatStorage":    f32,
	"torch.HalfStorage":     f16,
	"torch.BFloat16Storage": bf16,
	"torch.DoubleStorage":   f64,
	"torch.LongStorage":     i64,
	"torch.IntStorage":      i32,
	"torch.ShortStorage":    i16,
	"torch.CharStorage":     i8,
	"torch.ByteStorage":     u8,
	"torch.BoolStorage":     boolean,
}

func (g global) String() string { return g.module + "." + g.name }

func newDict() *dict { return &dict{index: map[any]int{}} }

// set inserts or replaces d[k]. Only keys Python and Go both hash the
// same way are accepted.
func (d *dict) set(k, v any) error {
	switch k.(type) {
	case string, int64, bool, float64, nil:
	default:
		return fmt.Errorf("dict key of type %s", typeName(k))
	}
	if i, ok := d.index[k]; ok {
		d.vals[i] = v
		return nil
	}
	d.index[k] = len(d.keys)
	d.keys = append(d.keys, k)
	d.vals = append(d.vals, v)
	return nil
}

func (d *dict) get(k string) (any, bool) {
	i, ok := d.index[k]
	if !ok {
		return nil, false
	}
	return d.vals[i], true
}

// typeName names a value's Python type, for error messages.
func typeName(v any) string {
	switch v := v.(type) {
	case nil:
		return "None"
	case bool:
		return "bool"
	case int64:
		return "int"
	case float64:
		return "float"
	case string:
		return "str"
	case bytesVal:
		return "bytes"
	case tuple:
		return "tuple"
	case *list:
		return "list"
	case *dict:
		return "dict"
	case global:
		return v.String()
	case *storage:
		return "storage"
	case *tensorRef:
		return "tensor"
	}
	return fmt.Sprintf("%T", v)
}

// opNames names the opcodes refused, so the error says what the file
// tried to do.
var opNames = map[byte]string{
	'I': "INT", 'L': "LONG", 'S': "STRING", 'T': "BINSTRING", 'U': "SHORT_BINSTRING",
	'V': "UNICODE", 'F': "FLOAT", 'P': "PERSID", 'p': "PUT", 'g': "GET", 'd': "DICT", 'l': "LIST",
	'i': "INST", 'o': "OBJ", 0x81: "NEWOBJ", 0x92: "NEWOBJ_EX", 0x82: "EXT1", 0x83: "EXT2", 0x84: "EXT4",
	0x8b: "LONG4", 0x8f: "EMPTY_SET", 0x90: "ADDITEMS", 0x91: "FROZENSET", 0x96: "BYTEARRAY8",
	0x97: "NEXT_BUFFER", 0x98: "READONLY_BUFFER", 0x8e: "BINBYTES8",
}

// unpickler runs the subset of the pickle machine a state_dict needs.
// It builds data only: a GLOBAL outside the allow-list, and any opcode
// that would call or construct something else, is an error naming it.
type unpickler struct {
	b      []byte
	pos    int
	stack  []any
	marks  [][]any
	memo   map[uint32]any
	persid func(pid any) (any, error)
}

func (u *unpickler) errf(op byte, format string, a ...any) error {
	return fmt.Errorf("data.pkl at byte %d (opcode %q): %s", u.pos, op, fmt.Sprintf(format, a...))
}

func (u *unpickler) take(n int) ([]byte, error) {
	if n < 0 || n > len(u.b)-u.pos {
		return nil, fmt.Errorf("data.pkl: truncated at byte %d (%d more bytes needed)", u.pos, n)
	}
	s := u.b[u.pos : u.pos+n]
	u.pos += n
	return s, nil
}

func (u *unpickler) line() (string, error) {
	i := strings.IndexByte(string(u.b[u.pos:]), '\n')
	if i < 0 {
		return "", fmt.Errorf("data.pkl: truncated line at byte %d", u.pos)
	}
	s := string(u.b[u.pos : u.pos+i])
	u.pos += i + 1
	return s, nil
}

func (u *unpickler) uint(n int) (uint64, error) {
	s, err := u.take(n)
	if err != nil {
		return 0, err
	}
	var v uint64
	for i := n - 1; i >= 0; i-- {
		v = v<<8 | uint64(s[i])
	}
	return v, nil
}

func (u *unpickler) pop() (any, error) {
	if len(u.stack) == 0 {
		return nil, fmt.Errorf("data.pkl: stack underflow at byte %d", u.pos)
	}
	v := u.stack[len(u.stack)-1]
	u.stack = u.stack[:len(u.stack)-1]
	return v, nil
}

func (u *unpickler) top() (any, error) {
	if len(u.stack) == 0 {
		return nil, fmt.Errorf("data.pkl: stack underflow at byte %d", u.pos)
	}
	return u.stack[len(u.stack)-1], nil
}

// popMark returns the items pushed since the last MARK and restores the
// stack below it.
func (u *unpickler) popMark() ([]any, error) {
	if len(u.marks) == 0 {
		return nil, fmt.Errorf("data.pkl: no MARK open at byte %d", u.pos)
	}
	items := u.stack
	u.stack = u.marks[len(u.marks)-1]
	u.marks = u.marks[:len(u.marks)-1]
	return items, nil
}

// blob pushes the next n bytes as a str, or as bytes when raw.
func (u *unpickler) blob(n uint64, raw bool) error {
	if n > uint64(len(u.b)) {
		return fmt.Errorf("data.pkl: a string of %d bytes at byte %d is longer than the file", n, u.pos)
	}
	s, err := u.take(int(n))
	if err != nil {
		return err
	}
	if raw {
		u.stack = append(u.stack, bytesVal(s))
	} else {
		u.stack = append(u.stack, string(s))
	}
	return nil
}

func (u *unpickler) put(i uint64) error {
	v, err := u.top()
	if err != nil {
		return err
	}
	u.memo[uint32(i)] = v
	return nil
}

func (u *unpickler) get(i uint64) error {
	v, ok := u.memo[uint32(i)]
	if !ok {
		return fmt.Errorf("data.pkl: memo %d read before it is written (byte %d)", i, u.pos)
	}
	u.stack = append(u.stack, v)
	return nil
}

func (u *unpickler) global(module, name string) error {
	g := global{module, name}
	key := g.String()
	if _, ok := storageTypes[key]; !ok {
		switch key {
		case fnOrderedDict, fnRebuildTensor, fnRebuildParam, fnRebuildParamSt:
		default:
			return fmt.Errorf("data.pkl: global %s is not allowed: a state_dict holds only tensors, "+
				"OrderedDicts and plain values, and graft never runs code from a file", key)
		}
	}
	u.stack = append(u.stack, g)
	return nil
}

// run executes the pickle to its STOP and returns the value it built.
func (u *unpickler) run() (any, error) {
	u.memo = map[uint32]any{}
	for {
		if u.pos >= len(u.b) {
			return nil, fmt.Errorf("data.pkl: ends without STOP at byte %d", u.pos)
		}
		op := u.b[u.pos]
		u.pos++
		var err error
		switch op {
		case 0x80: // PROTO
			var p uint64
			if p, err = u.uint(1); err == nil && p > 5 {
				err = u.errf(op, "pickle protocol %d", p)
			}
		case 0x95: // FRAME: a length hint
			_, err = u.uint(8)
		case '.': // STOP
			v, err := u.pop()
			if err != nil {
				return nil, err
			}
			return v, nil
		case '(': // MARK
			u.marks = append(u.marks, u.stack)
			u.stack = nil
		case '}':
			u.stack = append(u.stack, newDict())
		case ']':
			u.stack = append(u.stack, &list{})
		case ')':
			u.stack = append(u.stack, tuple{})
		case 't': // TUPLE
			var items []any
			if items, err = u.popMark(); err == nil {
				u.stack = append(u.stack, tuple(items))
			}
		case 0x85, 0x86, 0x87: // TUPLE1, TUPLE2, TUPLE3
			n := int(op - 0x84)
			t := make(tuple, n)
			for i := n - 1; i >= 0 && err == nil; i-- {
				t[i], err = u.pop()
			}
			u.stack = append(u.stack, t)
		case 'q': // BINPUT
			var i uint64
			if i, err = u.uint(1); err == nil {
				err = u.put(i)
			}
		case 'r': // LONG_BINPUT
			var i uint64
			if i, err = u.uint(4); err == nil {
				err = u.put(i)
			}
		case 0x94: // MEMOIZE
			err = u.put(uint64(len(u.memo)))
		case 'h': // BINGET
			var i uint64
			if i, err = u.uint(1); err == nil {
				err = u.get(i)
			}
		case 'j': // LONG_BINGET
			var i uint64
			if i, err = u.uint(4); err == nil {
				err = u.get(i)
			}
		case 'c': // GLOBAL
			var mod, name string
			if mod, err = u.line(); err == nil {
				if name, err = u.line(); err == nil {
					err = u.global(mod, name)
				}
			}
		case 0x93: // STACK_GLOBAL
			var name, mod any
			if name, err = u.pop(); err == nil {
				if mod, err = u.pop(); err == nil {
					ms, ok1 := mod.(string)
					ns, ok2 := name.(string)
					if !ok1 || !ok2 {
						err = u.errf(op, "STACK_GLOBAL of %s and %s", typeName(mod), typeName(name))
					} else {
						err = u.global(ms, ns)
					}
				}
			}
		case 'R': // REDUCE
			err = u.reduce()
		case 'b': // BUILD
			err = u.build()
		case 's': // SETITEM
			var k, v, d any
			if v, err = u.pop(); err == nil {
				if k, err = u.pop(); err == nil {
					if d, err = u.top(); err == nil {
						err = u.setItems(d, []any{k, v})
					}
				}
			}
		case 'u': // SETITEMS
			var items []any
			var d any
			if items, err = u.popMark(); err == nil {
				if d, err = u.top(); err == nil {
					err = u.setItems(d, items)
				}
			}
		case 'a': // APPEND
			var v, l any
			if v, err = u.pop(); err == nil {
				if l, err = u.top(); err == nil {
					err = u.appendItems(l, []any{v})
				}
			}
		case 'e': // APPENDS
			var items []any
			var l any
			if items, err = u.popMark(); err == nil {
				if l, err = u.top(); err == nil {
					err = u.appendItems(l, items)
				}
			}
		case 'J': // BININT
			var v uint64
			if v, err = u.uint(4); err == nil {
				u.stack = append(u.stack, int64(int32(uint32(v))))
			}
		case 'K': // BININT1
			var v uint64
			if v, err = u.uint(1); err == nil {
				u.stack = append(u.stack, int64(v))
			}
		case 'M': // BININT2
			var v uint64
			if v, err = u.uint(2); err == nil {
				u.stack = append(u.stack, int64(v))
			}
		case 0x8a: // LONG1: little-endian two's complement of n bytes
			var n uint64
			if n, err = u.uint(1); err == nil {
				if n > 8 {
					err = u.errf(op, "integer of %d bytes (more than 64 bits)", n)
					break
				}
				var v uint64
				if v, err = u.uint(int(n)); err == nil {
					if n > 0 && n < 8 && v&(1<<(8*n-1)) != 0 {
						v |= ^uint64(0) << (8 * n) // sign-extend
					}
					u.stack = append(u.stack, int64(v))
				}
			}
		case 'G': // BINFLOAT, big-endian
			var s []byte
			if s, err = u.take(8); err == nil {
				u.stack = append(u.stack, math.Float64frombits(binary.BigEndian.Uint64(s)))
			}
		case 0x88:
			u.stack = append(u.stack, true)
		case 0x89:
			u.stack = append(u.stack, false)
		case 'N':
			u.stack = append(u.stack, nil)
		case 'X': // BINUNICODE
			var n uint64
			if n, err = u.uint(4); err == nil {
				err = u.blob(n, false)
			}
		case 0x8c: // SHORT_BINUNICODE
			var n uint64
			if n, err = u.uint(1); err == nil {
				err = u.blob(n, false)
			}
		case 0x8d: // BINUNICODE8
			var n uint64
			if n, err = u.uint(8); err == nil {
				err = u.blob(n, false)
			}
		case 'B': // BINBYTES
			var n uint64
			if n, err = u.uint(4); err == nil {
				err = u.blob(n, true)
			}
		case 'C': // SHORT_BINBYTES
			var n uint64
			if n, err = u.uint(1); err == nil {
				err = u.blob(n, true)
			}
		case 'Q': // BINPERSID
			var pid, v any
			if pid, err = u.pop(); err == nil {
				if v, err = u.persid(pid); err == nil {
					u.stack = append(u.stack, v)
				}
			}
		case '0': // POP (of an empty frame: the MARK itself)
			if len(u.stack) > 0 {
				u.stack = u.stack[:len(u.stack)-1]
			} else {
				_, err = u.popMark()
			}
		case '1': // POP_MARK
			_, err = u.popMark()
		case '2': // DUP
			var v any
			if v, err = u.top(); err == nil {
				u.stack = append(u.stack, v)
			}
		default:
			if name, ok := opNames[op]; ok {
				return nil, fmt.Errorf("data.pkl at byte %d: opcode %s is not allowed in a state_dict", u.pos-1, name)
			}
			return nil, fmt.Errorf("data.pkl at byte %d: unknown opcode 0x%02x", u.pos-1, op)
		}
		if err != nil {
			return nil, err
		}
	}
}

func (u *unpickler) setItems(d any, items []any) error {
	dd, ok := d.(*dict)
	if !ok {
		return fmt.Errorf("data.pkl at byte %d: SETITEM on a %s", u.pos, typeName(d))
	}
	if len(items)%2 != 0 {
		return fmt.Errorf("data.pkl at byte %d: SETITEMS of an odd number of items", u.pos)
	}
	for i := 0; i < len(items); i += 2 {
		if err := dd.set(items[i], items[i+1]); err != nil {
			return fmt.Errorf("data.pkl at byte %d: %w", u.pos, err)
		}
	}
	return nil
}

func (u *unpickler) appendItems(l any, items []any) error {
	ll, ok := l.(*list)
	if !ok {
		return fmt.Errorf("data.pkl at byte %d: APPEND to a %s", u.pos, typeName(l))
	}
	ll.items = append(ll.items, items...)
	return nil
}

// reduce applies an allowed function to its argument tuple.
func (u *unpickler) reduce() error {
	a, err := u.pop()
	if err != nil {
		return err
	}
	f, err := u.pop()
	if err != nil {
		return err
	}
	args, ok := a.(tuple)
	if !ok {
		return fmt.Errorf("data.pkl at byte %d: REDUCE with %s arguments", u.pos, typeName(a))
	}
	g, ok := f.(global)
	if !ok {
		return fmt.Errorf("data.pkl at byte %d: REDUCE calls a %s", u.pos, typeName(f))
	}
	var v any
	switch g.String() {
	case fnOrderedDict:
		if len(args) != 0 {
			return fmt.Errorf("data.pkl at byte %d: OrderedDict called with %d arguments", u.pos, len(args))
		}
		v = newDict()
	case fnRebuildTensor:
		v, err = rebuildTensor(args)
	case fnRebuildParam, fnRebuildParamSt:
		v, err = rebuildParameter(args)
	default:
		return fmt.Errorf("data.pkl at byte %d: %s is not callable", u.pos, g)
	}
	if err != nil {
		return fmt.Errorf("data.pkl at byte %d: %s: %w", u.pos, g.name, err)
	}
	u.stack = append(u.stack, v)
	return nil
}

// build accepts only what torch.save emits: an OrderedDict's instance
// dict (a state_dict's _metadata) and a tensor's empty state; both are
// dropped.
func (u *unpickler) build() error {
	st, err := u.pop()
	if err != nil {
		return err
	}
	obj, err := u.top()
	if err != nil {
		return err
	}
	switch obj.(type) {
	case *dict, *tensorRef:
	default:
		return fmt.Errorf("data.pkl at byte %d: BUILD on a %s", u.pos, typeName(obj))
	}
	switch s := st.(type) {
	case nil, *dict:
	case tuple: // (state, slotstate), both dicts or None
		for _, x := range s {
			if _, ok := x.(*dict); !ok && x != nil {
				return fmt.Errorf("data.pkl at byte %d: BUILD with a %s state", u.pos, typeName(x))
			}
		}
	default:
		return fmt.Errorf("data.pkl at byte %d: BUILD with a %s state", u.pos, typeName(st))
	}
	return nil
}
