package main

// protoc-gen-swagger describes the proto3 JSON mapping: proto field names, int64 as strings,
// enums by name, no null. The gateway sends the seeds' shapes instead, so the document it
// serves and installs is rewritten here, from the same contract styles the marshaler uses:
// JSON names, integers as integers, enums as numbers where the contract prints numbers, null
// and left-out fields noted, and each contract's failure body.

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/golang/protobuf/proto"

	oq "orderquery/gen/go/orderquery/v1"
)

// contractMessages: the request and response messages of each contract's route.
func contractMessages(name string) (req, resp proto.Message) {
	switch name {
	case "seed000":
		return &oq.QueryRechargeOrderRequest{}, &oq.QueryRechargeOrderResponse{}
	case "seed001":
		return &oq.GetTradeOrderRequest{}, &oq.GetTradeOrderResponse{}
	case "seed002":
		return &oq.GetVehicleTransactionRequest{}, &oq.VehicleTransaction{}
	}
	return nil, nil
}

type docFixer struct {
	defs map[string]interface{}
	done map[string]bool
}

func asMap(v interface{}) map[string]interface{} {
	m, _ := v.(map[string]interface{})
	return m
}

func refName(p map[string]interface{}) string {
	r, _ := p["$ref"].(string)
	return strings.TrimPrefix(r, "#/definitions/")
}

func appendDescription(p map[string]interface{}, text string) {
	if d, _ := p["description"].(string); d != "" {
		p["description"] = d + " " + text
	} else {
		p["description"] = text
	}
}

// message rewrites one definition (and, through its $refs, the messages below it).
func (f *docFixer) message(defName string, t reflect.Type, style Style) error {
	if f.done[defName] {
		return nil
	}
	f.done[defName] = true
	def := asMap(f.defs[defName])
	if def == nil {
		return fmt.Errorf("openapi: no definition %s", defName)
	}
	props := asMap(def["properties"])
	msgName := proto.MessageName(reflect.New(t).Interface().(proto.Message))
	renamed := map[string]interface{}{}
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		tag := sf.Tag.Get("protobuf")
		if tag == "" || strings.HasPrefix(sf.Name, "XXX_") {
			continue
		}
		var pp proto.Properties
		pp.Parse(tag)
		p := asMap(props[pp.OrigName])
		if p == nil {
			continue
		}
		jsonName := pp.JSONName
		if jsonName == "" {
			jsonName = pp.OrigName
		}
		target, ft := p, sf.Type
		if ft.Kind() == reflect.Slice && ft.Elem().Kind() != reflect.Uint8 {
			target, ft = asMap(p["items"]), ft.Elem()
		}
		switch {
		case pp.Enum != "" && style.EnumsAsNumbers:
			enumDef := asMap(f.defs[refName(target)])
			values := proto.EnumValueMap(pp.Enum)
			nums := make([]int, 0, len(values))
			for _, n := range values {
				nums = append(nums, int(n))
			}
			sort.Ints(nums)
			delete(target, "$ref")
			target["type"], target["format"], target["enum"] = "integer", "int32", nums
			if d, _ := enumDef["description"].(string); d != "" {
				appendDescription(target, d)
			}
		case ft.Kind() == reflect.Int64 || ft.Kind() == reflect.Uint64:
			target["type"] = "integer"
		case ft.Kind() == reflect.Ptr:
			p["x-nullable"] = true
			if err := f.message(refName(target), ft.Elem(), style); err != nil {
				return err
			}
		}
		switch style.Fields[msgName+"."+pp.OrigName] {
		case NullWhenEmpty:
			p["x-nullable"] = true
			appendDescription(p, "null when there is no value.")
		case NumberWhenNumeric:
			p["x-nullable"] = true
			appendDescription(p, "A JSON number when the id is a decimal integer (as the upstream sends it), else a string; null when empty.")
		case OmitWhenEmpty:
			appendDescription(p, "Left out when empty.")
		}
		renamed[jsonName] = p
	}
	def["properties"] = renamed
	return nil
}

// AdjustOpenAPI returns the document the gateway serves and installs.
func AdjustOpenAPI(raw []byte) ([]byte, error) {
	var doc map[string]interface{}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("openapi: %v", err)
	}
	f := &docFixer{defs: asMap(doc["definitions"]), done: map[string]bool{}}
	if f.defs == nil {
		return nil, fmt.Errorf("openapi: no definitions")
	}
	f.defs["Envelope"] = map[string]interface{}{
		"type":        "object",
		"description": "A failure in seed 000's envelope: code is the HTTP status times ten (plus one for the gateway's own variants), never 0 or 2041-2048; data is null.",
		"properties": map[string]interface{}{
			"code": map[string]interface{}{"type": "integer", "format": "int32"},
			"msg":  map[string]interface{}{"type": "string"},
			"data": map[string]interface{}{"type": "object", "x-nullable": true},
		},
	}
	f.defs["WechatError"] = map[string]interface{}{
		"type":        "object",
		"description": "A failure as WeChat Pay v3 answers it (seed 002's error table).",
		"properties": map[string]interface{}{
			"code":    map[string]interface{}{"type": "string"},
			"message": map[string]interface{}{"type": "string"},
		},
	}
	paths := asMap(doc["paths"])
	for _, c := range Contracts() {
		ops := asMap(paths[c.Route])
		if ops == nil {
			return nil, fmt.Errorf("openapi: no path %s", c.Route)
		}
		req, resp := contractMessages(c.Name)
		ok200 := asMap(asMap(asMap(ops[strings.ToLower(c.Methods[0])])["responses"])["200"])
		if err := f.message(refName(asMap(ok200["schema"])), reflect.TypeOf(resp).Elem(), c.Style); err != nil {
			return nil, err
		}
		reqType := reflect.TypeOf(req).Elem()
		jsonNames := map[string]string{}
		for i := 0; i < reqType.NumField(); i++ {
			if tag := reqType.Field(i).Tag.Get("protobuf"); tag != "" {
				var pp proto.Properties
				pp.Parse(tag)
				if pp.JSONName != "" {
					jsonNames[pp.OrigName] = pp.JSONName
				}
			}
		}
		errSchema := "#/definitions/Envelope"
		if c.wechat {
			errSchema = "#/definitions/WechatError"
		}
		for _, v := range ops {
			op := asMap(v)
			for _, pv := range op["parameters"].([]interface{}) {
				param := asMap(pv)
				if param["in"] == "query" {
					if j, ok := jsonNames[param["name"].(string)]; ok {
						param["name"] = j
					}
				}
				if param["in"] == "body" {
					if err := f.message(refName(asMap(param["schema"])), reqType, c.Style); err != nil {
						return nil, err
					}
				}
			}
			asMap(op["responses"])["default"] = map[string]interface{}{
				"description": "A failure; see the README's failure table for each status.",
				"schema":      map[string]interface{}{"$ref": errSchema},
			}
			if c.Public {
				appendDescription(op, "Served on the public and the internal listener.")
			} else {
				appendDescription(op, "Internal listener only.")
			}
		}
	}
	return json.MarshalIndent(doc, "", "  ")
}
