package main

// The gateway's JSON marshaler. grpc-gateway v1's JSONPb (golang/protobuf jsonpb) follows the
// proto3 JSON mapping, which cannot print the seeds' shapes: it quotes every int64 ("888"
// where WeChat and the merchant API send 888), and it has one enum style and one "emit
// defaults" switch for every message. The seeds need integers as JSON numbers (amounts are
// int64 fen), enums as numbers for seeds 000/001 and as names for seed 002, and, for a few seed
// 001 fields, null where the upstream sends null. So this marshaler encodes the generated
// messages itself, field by field from their protobuf struct tags (the same metadata jsonpb
// reads), under a per-contract Style. Requests are decoded with jsonpb (tolerant of unknown
// fields), which already accepts both the JSON names and the proto names.

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/golang/protobuf/jsonpb"
	"github.com/golang/protobuf/proto"
	"github.com/grpc-ecosystem/grpc-gateway/runtime"
	"github.com/grpc-ecosystem/grpc-gateway/utilities"
)

// FieldRule changes how one field prints; the zero value prints it like any other field.
type FieldRule int

const (
	// PrintDefault prints the field always, zero values included (the seeds never omit keys).
	PrintDefault FieldRule = iota
	// NullWhenEmpty prints null when the field holds its zero value: the upstream sends null
	// there, and the service stores "absent" as the zero value.
	NullWhenEmpty
	// OmitWhenEmpty leaves the key out when the field holds its zero value (an optional field
	// the upstream leaves out rather than sending empty).
	OmitWhenEmpty
	// NumberWhenNumeric prints a string field that holds a decimal integer as a JSON number
	// (the merchant API's mchId is a number on the wire, an id string in the proto); any other
	// value prints as a string, and the empty string as null.
	NumberWhenNumeric
)

// Style is how one contract prints its messages.
type Style struct {
	// EnumsAsNumbers prints enums as their numbers (seed 000's "code": 2042), else as names.
	EnumsAsNumbers bool
	// Fields maps "package.Message.field_name" to the field's rule.
	Fields map[string]FieldRule
}

// Marshaler is a runtime.Marshaler that encodes with a Style and decodes with jsonpb.
type Marshaler struct {
	style    Style
	plans    sync.Map // reflect.Type (struct) -> *messagePlan
	unmarsh  jsonpb.Unmarshaler
	formBody bool // decode bodies as application/x-www-form-urlencoded
}

var _ runtime.Marshaler = (*Marshaler)(nil)

// NewMarshaler returns a JSON marshaler for the style.
func NewMarshaler(style Style) *Marshaler {
	return &Marshaler{style: style, unmarsh: jsonpb.Unmarshaler{AllowUnknownFields: true}}
}

// ContentType is what the gateway answers with.
func (m *Marshaler) ContentType() string { return "application/json; charset=utf-8" }

// Marshal encodes a generated message under the style; anything else with encoding/json.
func (m *Marshaler) Marshal(v interface{}) ([]byte, error) {
	var buf bytes.Buffer
	if err := m.encode(&buf, v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func (m *Marshaler) encode(buf *bytes.Buffer, v interface{}) error {
	msg, ok := v.(proto.Message)
	if !ok {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		buf.Write(b)
		return nil
	}
	rv := reflect.ValueOf(msg)
	if rv.Kind() != reflect.Ptr || rv.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("marshal: %T is not a generated message", v)
	}
	return m.message(buf, rv)
}

// NewEncoder writes one encoded value per Encode call.
func (m *Marshaler) NewEncoder(w io.Writer) runtime.Encoder {
	return runtime.EncoderFunc(func(v interface{}) error {
		b, err := m.Marshal(v)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	})
}

// Unmarshal decodes one JSON object into a generated message.
func (m *Marshaler) Unmarshal(data []byte, v interface{}) error {
	return m.NewDecoder(bytes.NewReader(data)).Decode(v)
}

// errBody marks a request body the gateway could not read (answered 400 with the reason).
type errBody struct{ reason string }

func (e *errBody) Error() string { return e.reason }

// NewDecoder reads the request body: one JSON object (or a form when formBody is set) and
// nothing after it. An empty body is io.EOF (the generated handlers accept that: every field
// is then unset and the service says what is missing).
func (m *Marshaler) NewDecoder(r io.Reader) runtime.Decoder {
	return runtime.DecoderFunc(func(v interface{}) error {
		msg, ok := v.(proto.Message)
		if !ok {
			return fmt.Errorf("decode: %T is not a generated message", v)
		}
		if m.formBody {
			// Many HTTP clients (curl -d among them) label a JSON body as a form; seed 000's
			// request example is JSON, so a body that opens with '{' is read as JSON.
			b, err := io.ReadAll(r)
			if err != nil {
				return err
			}
			if t := bytes.TrimLeft(b, " \t\r\n"); len(t) == 0 || t[0] != '{' {
				return decodeForm(b, msg)
			}
			r = bytes.NewReader(b)
		}
		dec := json.NewDecoder(r)
		if err := m.unmarsh.UnmarshalNext(dec, msg); err != nil {
			if err == io.EOF {
				return io.EOF
			}
			return &errBody{"request body is not a valid JSON object for this call: " + err.Error()}
		}
		if _, err := dec.Token(); err != io.EOF {
			return &errBody{"request body has data after the JSON object"}
		}
		return nil
	})
}

// fieldPlan is what encoding one struct field needs, computed once per message type.
type fieldPlan struct {
	index int
	key   []byte // `"name":`
	enum  bool
	rule  FieldRule
}

type messagePlan struct {
	fields []fieldPlan
}

func (m *Marshaler) plan(t reflect.Type, msg proto.Message) (*messagePlan, error) {
	if p, ok := m.plans.Load(t); ok {
		return p.(*messagePlan), nil
	}
	name := proto.MessageName(msg)
	p := &messagePlan{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if strings.HasPrefix(f.Name, "XXX_") {
			continue
		}
		if f.Tag.Get("protobuf_oneof") != "" {
			return nil, fmt.Errorf("marshal: %s: oneof fields are not supported", name)
		}
		tag := f.Tag.Get("protobuf")
		if tag == "" {
			continue
		}
		var props proto.Properties
		props.Parse(tag)
		jsonName := props.JSONName
		if jsonName == "" {
			jsonName = props.OrigName
		}
		if f.Type.Kind() == reflect.Map {
			return nil, fmt.Errorf("marshal: %s.%s: map fields are not supported", name, props.OrigName)
		}
		var key bytes.Buffer
		writeString(&key, jsonName)
		key.WriteByte(':')
		p.fields = append(p.fields, fieldPlan{
			index: i,
			key:   key.Bytes(),
			enum:  props.Enum != "",
			rule:  m.style.Fields[name+"."+props.OrigName],
		})
	}
	actual, _ := m.plans.LoadOrStore(t, p)
	return actual.(*messagePlan), nil
}

// message writes a pointer to a generated struct; a nil pointer is null.
func (m *Marshaler) message(buf *bytes.Buffer, rv reflect.Value) error {
	if rv.IsNil() {
		buf.WriteString("null")
		return nil
	}
	msg, ok := rv.Interface().(proto.Message)
	if !ok {
		return fmt.Errorf("marshal: %s is not a generated message", rv.Type())
	}
	s := rv.Elem()
	p, err := m.plan(s.Type(), msg)
	if err != nil {
		return err
	}
	buf.WriteByte('{')
	first := true
	for i := range p.fields {
		f := &p.fields[i]
		fv := s.Field(f.index)
		empty := fv.IsZero() || (fv.Kind() == reflect.Slice && fv.Len() == 0)
		if empty && f.rule == OmitWhenEmpty {
			continue
		}
		if !first {
			buf.WriteByte(',')
		}
		first = false
		buf.Write(f.key)
		if empty && (f.rule == NullWhenEmpty || f.rule == NumberWhenNumeric) {
			buf.WriteString("null")
			continue
		}
		if err := m.value(buf, fv, f); err != nil {
			return err
		}
	}
	buf.WriteByte('}')
	return nil
}

func (m *Marshaler) value(buf *bytes.Buffer, v reflect.Value, f *fieldPlan) error {
	switch v.Kind() {
	case reflect.Ptr:
		return m.message(buf, v)
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 { // bytes
			buf.WriteByte('"')
			buf.WriteString(base64.StdEncoding.EncodeToString(v.Bytes()))
			buf.WriteByte('"')
			return nil
		}
		buf.WriteByte('[')
		for i := 0; i < v.Len(); i++ {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := m.value(buf, v.Index(i), f); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
		return nil
	case reflect.String:
		s := v.String()
		if f.rule == NumberWhenNumeric && isDecimalInteger(s) {
			buf.WriteString(s)
		} else {
			writeString(buf, s)
		}
		return nil
	case reflect.Bool:
		buf.WriteString(strconv.FormatBool(v.Bool()))
		return nil
	case reflect.Int32:
		if f.enum && !m.style.EnumsAsNumbers {
			if s, ok := v.Interface().(fmt.Stringer); ok {
				writeString(buf, s.String())
				return nil
			}
		}
		buf.WriteString(strconv.FormatInt(v.Int(), 10))
		return nil
	case reflect.Int64:
		// A JSON number, as the seeds send money: int64 fen never needs more than 2^53.
		buf.WriteString(strconv.FormatInt(v.Int(), 10))
		return nil
	case reflect.Uint32, reflect.Uint64:
		buf.WriteString(strconv.FormatUint(v.Uint(), 10))
		return nil
	case reflect.Float32, reflect.Float64:
		x := v.Float()
		switch {
		case math.IsNaN(x):
			buf.WriteString(`"NaN"`)
		case math.IsInf(x, 1):
			buf.WriteString(`"Infinity"`)
		case math.IsInf(x, -1):
			buf.WriteString(`"-Infinity"`)
		default:
			bits := 64
			if v.Kind() == reflect.Float32 {
				bits = 32
			}
			buf.WriteString(strconv.FormatFloat(x, 'g', -1, bits))
		}
		return nil
	}
	return fmt.Errorf("marshal: unsupported field kind %s", v.Kind())
}

// isDecimalInteger: an optional minus, then digits without a leading zero, fitting in int64.
func isDecimalInteger(s string) bool {
	if s == "" {
		return false
	}
	d := strings.TrimPrefix(s, "-")
	if d == "" || (len(d) > 1 && d[0] == '0') {
		return false
	}
	for i := 0; i < len(d); i++ {
		if d[i] < '0' || d[i] > '9' {
			return false
		}
	}
	_, err := strconv.ParseInt(s, 10, 64)
	return err == nil
}

const hexDigits = "0123456789abcdef"

// writeString writes s as a JSON string: UTF-8 kept as is (the seeds' Chinese text stays
// readable), quotes, backslashes and control characters escaped, invalid bytes as U+FFFD.
func writeString(buf *bytes.Buffer, s string) {
	buf.WriteByte('"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				buf.WriteByte('\\')
				buf.WriteByte(c)
			case c == '\n':
				buf.WriteString(`\n`)
			case c == '\r':
				buf.WriteString(`\r`)
			case c == '\t':
				buf.WriteString(`\t`)
			case c < 0x20:
				buf.WriteString(`\u00`)
				buf.WriteByte(hexDigits[c>>4])
				buf.WriteByte(hexDigits[c&0xf])
			default:
				buf.WriteByte(c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			buf.WriteString(`\ufffd`)
		case r == '\u2028' || r == '\u2029': // valid JSON, but not valid JavaScript
			buf.WriteString(`\u202`)
			buf.WriteByte(hexDigits[r&0xf])
		default:
			buf.WriteString(s[i : i+size])
		}
		i += size
	}
	buf.WriteByte('"')
}

// formMarshaler reads application/x-www-form-urlencoded bodies (seed 000 lets the token and
// the order number come as parameters; seed 001 names no method, so its callers may post a
// form) and answers JSON like the others.
func formMarshaler(m *Marshaler) *Marshaler {
	f := NewMarshaler(m.style)
	f.formBody = true
	return f
}

func decodeForm(b []byte, msg proto.Message) error {
	if len(b) == 0 {
		return io.EOF
	}
	values, err := url.ParseQuery(string(b))
	if err != nil {
		return &errBody{"request body is not a valid form: " + err.Error()}
	}
	if err := runtime.PopulateQueryParameters(msg, values, utilities.NewDoubleArray(nil)); err != nil {
		return &errBody{"request body: " + err.Error()}
	}
	return nil
}
