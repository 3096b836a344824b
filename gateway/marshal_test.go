package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	oq "orderquery/gen/go/orderquery/v1"
)

func styleOf(t *testing.T, name string) Style {
	t.Helper()
	for _, c := range Contracts() {
		if c.Name == name {
			return c.Style
		}
	}
	t.Fatalf("no contract %s", name)
	return Style{}
}

func marshal(t *testing.T, style Style, v interface{}) string {
	t.Helper()
	b, err := NewMarshaler(style).Marshal(v)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	if !json.Valid(b) {
		t.Fatalf("not valid JSON: %s", b)
	}
	return string(b)
}

func TestSeed000EnvelopeIsTheSeedExampleByteForByte(t *testing.T) {
	got := marshal(t, styleOf(t, "seed000"), &oq.QueryRechargeOrderResponse{
		Code: oq.RechargeResultCode_RECHARGE_RESULT_CODE_NOTPAY, Msg: "订单未支付"})
	if want := `{"code":2042,"msg":"订单未支付","data":null}`; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

func TestSeed000DataPrintsMoneyAsNumbersAndStateAsNumber(t *testing.T) {
	got := marshal(t, styleOf(t, "seed000"), &oq.QueryRechargeOrderResponse{
		Msg: "订单支付成功",
		Data: &oq.RechargeOrderData{OrderNo: "R1", Amount: 1000, Balance: 9007199254740991,
			State: oq.RechargeOrderState_RECHARGE_ORDER_STATE_SUCCESS}})
	want := `{"code":0,"msg":"订单支付成功","data":{"orderNo":"R1","amount":1000,"state":2,` +
		`"tradeState":"","transactionId":"","paidTime":"","balance":9007199254740991}}`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func TestSeed001RulesNumbersNullsAndOmissions(t *testing.T) {
	style := styleOf(t, "seed001")
	got := marshal(t, style, &oq.TradeOrder{TradeOrderId: "E1", MchId: "20000000",
		TradeType: oq.TradeType_TRADE_TYPE_COLLECTION, Status: oq.TradeStatus_TRADE_STATUS_FAILED,
		GoodsDesc: []*oq.GoodsItem{{GoodsId: -1, CurrentPrice: 10000, GoodsName: "茉莉花茶"}}})
	var m map[string]interface{}
	if err := json.Unmarshal([]byte(got), &m); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]interface{}{
		"mchId": float64(20000000), "tradeType": float64(1), "status": float64(-1),
		"channelUserId": nil, "productType": nil, "givePoints": nil, "appId": "",
		"operatorId": "", "refundTotalAmount": float64(0)} {
		v, ok := m[key]
		if !ok || v != want {
			t.Errorf("%s: got %#v (present %t), want %#v", key, v, ok, want)
		}
	}
	if _, ok := m["depositMode"]; ok {
		t.Errorf("depositMode printed for the default value: %s", got)
	}
	goods := m["goodsDesc"].([]interface{})[0].(map[string]interface{})
	if goods["goodsId"] != float64(-1) || goods["currentPrice"] != float64(10000) {
		t.Errorf("goods line: %v", goods)
	}
	// An id that is not a decimal integer stays a string; an empty one is null.
	for id, want := range map[string]string{"M-01": `"mchId":"M-01"`, "007": `"mchId":"007"`, "": `"mchId":null`,
		"-5": `"mchId":-5`, "99999999999999999999": `"mchId":"99999999999999999999"`} {
		if s := marshal(t, style, &oq.TradeOrder{MchId: id}); !strings.Contains(s, want) {
			t.Errorf("mch_id %q: %s does not contain %s", id, s, want)
		}
	}
}

func TestSeed002EnumsByNameAndOptionalFieldsLeftOut(t *testing.T) {
	got := marshal(t, styleOf(t, "seed002"), &oq.VehicleTransaction{OutTradeNo: "N1",
		TradeState:  oq.VehicleTransaction_ACCEPTED,
		ParkingInfo: &oq.ParkingInfo{PlateColor: oq.ParkingInfo_BLUE, ChargingDuration: 3600},
		Amount:      &oq.OrderAmount{Total: 888}})
	for _, want := range []string{`"trade_state":"ACCEPTED"`, `"plate_color":"BLUE"`,
		`"charging_duration":3600`, `"amount":{"total":888,"payer_total":0,"discount_total":0}`, `"payer":null`} {
		if !strings.Contains(got, want) {
			t.Errorf("%s does not contain %s", got, want)
		}
	}
	for _, absent := range []string{"success_time", "transaction_id", "promotion_detail", "sub_appid"} {
		if strings.Contains(got, `"`+absent+`"`) {
			t.Errorf("%s printed while empty: %s", absent, got)
		}
	}
}

func TestWriteStringEscapes(t *testing.T) {
	var b bytes.Buffer
	writeString(&b, "a\"b\\c\n\x01粤\u2028\xff")
	want := `"a\"b\\c\n\u0001粤\u2028\ufffd"`
	if b.String() != want {
		t.Fatalf("got %s, want %s", b.String(), want)
	}
	var s string
	if err := json.Unmarshal(b.Bytes(), &s); err != nil {
		t.Fatalf("not a JSON string: %v", err)
	}
}

func TestDecodeJSONBody(t *testing.T) {
	m := NewMarshaler(styleOf(t, "seed000"))
	var req oq.QueryRechargeOrderRequest
	err := m.NewDecoder(strings.NewReader(`{"orderNo":"R1","token":"t","extra":1}`)).Decode(&req)
	if err != nil || req.OrderNo != "R1" || req.Token != "t" {
		t.Fatalf("got %+v, %v", req, err)
	}
	for _, bad := range []string{`{"orderNo":"R1"`, `{"orderNo":1}`, `[1]`, `{"orderNo":"R1"} {}`, `nonsense`} {
		var r oq.QueryRechargeOrderRequest
		err := m.NewDecoder(strings.NewReader(bad)).Decode(&r)
		if _, ok := err.(*errBody); !ok {
			t.Errorf("%s: got %v, want a body error", bad, err)
		}
	}
}

func TestDecodeFormBodyAndJSONLabelledAsForm(t *testing.T) {
	m := formMarshaler(NewMarshaler(styleOf(t, "seed000")))
	var req oq.QueryRechargeOrderRequest
	if err := m.NewDecoder(strings.NewReader("orderNo=R2&token=tk")).Decode(&req); err != nil ||
		req.OrderNo != "R2" || req.Token != "tk" {
		t.Fatalf("form: got %+v, %v", req, err)
	}
	req = oq.QueryRechargeOrderRequest{}
	if err := m.NewDecoder(strings.NewReader(` {"orderNo":"R3"}`)).Decode(&req); err != nil || req.OrderNo != "R3" {
		t.Fatalf("json as form: got %+v, %v", req, err)
	}
}
