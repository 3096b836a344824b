package main

// The three seed contracts the gateway speaks: their routes, how their messages print, and how
// a failure reads to a caller written for that contract.

import (
	"net/http"
	"strings"

	"google.golang.org/grpc/codes"
)

// Contract is one seed's REST face.
type Contract struct {
	Name     string // for logs: seed000, seed001, seed002
	Route    string // the route as logged (never the raw path: it may carry an order number)
	Methods  []string
	Public   bool // served on the public listener too
	Style    Style
	wechat   bool // failures in WeChat Pay v3's shape instead of the {code, msg, data} envelope
	matchFun func(path string) bool
}

// Allows reports whether the contract's route answers the method.
func (c *Contract) Allows(method string) bool {
	for _, m := range c.Methods {
		if m == method {
			return true
		}
	}
	return false
}

// Match reports whether the request path is this contract's route.
func (c *Contract) Match(path string) bool { return c.matchFun(path) }

const vehiclePrefix = "/v3/vehicle/transactions/out-trade-no/"

// Contracts returns the seeds' contracts, seed 000 first.
func Contracts() []*Contract {
	return []*Contract{
		{
			// Seed 000: POST /app/app/recharge/queryOrder -> {"code": 2042, "msg": "订单未支付", "data": null}.
			Name: "seed000", Route: "/app/app/recharge/queryOrder", Methods: []string{http.MethodPost}, Public: true,
			Style:    Style{EnumsAsNumbers: true},
			matchFun: func(p string) bool { return p == "/app/app/recharge/queryOrder" },
		},
		{
			// Seed 001: the merchant API's example prints ids and amounts as numbers, the enums as
			// their numbers, and null for what the upstream did not send. The service keeps
			// "absent" as the zero value, so these fields print null when zero; depositMode is not
			// in the example at all and is left out when it is the default (ordinary collection).
			// The seed names no method: GET with the query, or POST with a JSON or form body.
			Name: "seed001", Route: "/api/trade_order/get", Methods: []string{http.MethodGet, http.MethodPost},
			Style: Style{EnumsAsNumbers: true, Fields: map[string]FieldRule{
				"orderquery.v1.TradeOrder.mch_id":          NumberWhenNumeric,
				"orderquery.v1.TradeOrder.deposit_mode":    OmitWhenEmpty,
				"orderquery.v1.TradeOrder.channel_user_id": NullWhenEmpty,
				"orderquery.v1.TradeOrder.product_type":    NullWhenEmpty,
				"orderquery.v1.TradeOrder.coupon_id":       NullWhenEmpty,
				"orderquery.v1.TradeOrder.store_no":        NullWhenEmpty,
				"orderquery.v1.TradeOrder.store_name":      NullWhenEmpty,
				"orderquery.v1.TradeOrder.member_id":       NullWhenEmpty,
				"orderquery.v1.TradeOrder.member_tel":      NullWhenEmpty,
				"orderquery.v1.TradeOrder.give_points":     NullWhenEmpty,
				"orderquery.v1.TradeOrder.trade_succ_time": NullWhenEmpty,
			}},
			matchFun: func(p string) bool { return p == "/api/trade_order/get" },
		},
		{
			// Seed 002: WeChat's own reply: snake_case, enums by name (plate_color "BLUE"),
			// integers as integers; optional (选填) fields WeChat leaves out when it has no value.
			Name: "seed002", Route: vehiclePrefix + "{out_trade_no}", Methods: []string{http.MethodGet},
			Style: Style{EnumsAsNumbers: false, Fields: map[string]FieldRule{
				"orderquery.v1.VehicleTransaction.sub_appid":               OmitWhenEmpty,
				"orderquery.v1.VehicleTransaction.transaction_id":          OmitWhenEmpty,
				"orderquery.v1.VehicleTransaction.trade_state":             OmitWhenEmpty,
				"orderquery.v1.VehicleTransaction.trade_state_description": OmitWhenEmpty,
				"orderquery.v1.VehicleTransaction.success_time":            OmitWhenEmpty,
				"orderquery.v1.VehicleTransaction.bank_type":               OmitWhenEmpty,
				"orderquery.v1.VehicleTransaction.user_repaid":             OmitWhenEmpty,
				"orderquery.v1.VehicleTransaction.attach":                  OmitWhenEmpty,
				"orderquery.v1.VehicleTransaction.parking_info":            OmitWhenEmpty,
				"orderquery.v1.VehicleTransaction.promotion_detail":        OmitWhenEmpty,
				"orderquery.v1.ParkingInfo.plate_color":                    OmitWhenEmpty,
				"orderquery.v1.Payer.sub_openid":                           OmitWhenEmpty,
				"orderquery.v1.OrderAmount.currency":                       OmitWhenEmpty,
				"orderquery.v1.PromotionDetail.name":                       OmitWhenEmpty,
				"orderquery.v1.PromotionDetail.scope":                      OmitWhenEmpty,
				"orderquery.v1.PromotionDetail.type":                       OmitWhenEmpty,
				"orderquery.v1.PromotionDetail.stock_id":                   OmitWhenEmpty,
				"orderquery.v1.PromotionDetail.currency":                   OmitWhenEmpty,
			}},
			wechat: true,
			matchFun: func(p string) bool {
				return strings.HasPrefix(p, vehiclePrefix) && len(p) > len(vehiclePrefix) &&
					!strings.Contains(p[len(vehiclePrefix):], "/")
			},
		},
	}
}

// failure is how a failed call reads to the caller: HTTP status and body fields.
type failure struct {
	HTTP int
	// Envelope (seeds 000 and 001): code never collides with a business code (0, 2041-2048):
	// it is the HTTP status times ten, plus one for the gateway's own variants.
	Code int
	Msg  string
	// WeChat (seed 002): the error code string of the seed's table.
	WechatCode string
	// Detail: whether the service's message is safe and useful to show (4xx); 5xx details stay
	// in the gateway's log.
	Detail bool
}

// Failures of the gateway itself (not of the call), by the same tables.
const (
	errBadBody       = "bad_body"
	errBodyTooLarge  = "body_too_large"
	errNoRoute       = "no_route"
	errMethod        = "method_not_allowed"
	errUpstreamDown  = "upstream_unavailable"
	errBadGrpcTimout = "bad_grpc_timeout"
)

var statusFailures = map[codes.Code]failure{
	codes.InvalidArgument:    {400, 4000, "请求参数错误", "PARAM_ERROR", true},
	codes.OutOfRange:         {400, 4000, "请求参数错误", "PARAM_ERROR", true},
	codes.Unauthenticated:    {401, 4010, "未登录或登录已过期", "SIGN_ERROR", true},
	codes.PermissionDenied:   {403, 4030, "无权访问", "NO_AUTH", true},
	codes.NotFound:           {404, 4040, "订单不存在", "NOT_FOUND", true},
	codes.AlreadyExists:      {409, 4090, "请求冲突,请稍后重试", "INVALID_REQUEST", true},
	codes.Aborted:            {409, 4090, "请求冲突,请稍后重试", "INVALID_REQUEST", true},
	codes.FailedPrecondition: {412, 4120, "上游拒绝了请求", "INVALID_REQUEST", true},
	codes.ResourceExhausted:  {429, 4290, "达到调用速率限制,请稍后重试", "RATELIMIT_EXCEEDED", false},
	codes.Canceled:           {499, 4990, "请求已取消", "SYSTEM_ERROR", false},
	codes.Unknown:            {500, 5000, "系统异常,请稍后重试", "SYSTEM_ERROR", false},
	codes.Internal:           {500, 5000, "系统异常,请稍后重试", "SYSTEM_ERROR", false},
	codes.DataLoss:           {500, 5000, "系统异常,请稍后重试", "SYSTEM_ERROR", false},
	codes.Unimplemented:      {501, 5010, "不支持的调用", "SYSTEM_ERROR", false},
	codes.Unavailable:        {503, 5030, "服务暂不可用,请稍后重试", "SYSTEM_ERROR", false},
	codes.DeadlineExceeded:   {504, 5040, "请求超时,请稍后重试", "SYSTEM_ERROR", false},
}

var gatewayFailures = map[string]failure{
	errBadBody:       {400, 4001, "请求体格式错误", "INVALID_REQUEST", true},
	errBadGrpcTimout: {400, 4002, "grpc-timeout 格式错误", "INVALID_REQUEST", true},
	errNoRoute:       {404, 4041, "接口不存在", "NOT_FOUND", false},
	errMethod:        {405, 4050, "请求方式不支持", "INVALID_REQUEST", false},
	errBodyTooLarge:  {413, 4130, "请求体过大", "INVALID_REQUEST", false},
	errUpstreamDown:  {503, 5030, "服务暂不可用,请稍后重试", "SYSTEM_ERROR", false},
}

// wechatMessages: seed 002's texts for the codes whose details the gateway does not pass on.
var wechatMessages = map[string]string{
	"SYSTEM_ERROR":       "系统异常,请稍后重试",
	"RATELIMIT_EXCEEDED": "达到调用速率限制",
}

// wechatStatus: WeChat's table answers 5xx as 500 SYSTEM_ERROR and has no 412; a caller
// written for WeChat branches on these statuses, so seed 002 keeps them.
func wechatStatus(f failure) int {
	switch {
	case f.HTTP >= 500:
		return http.StatusInternalServerError
	case f.HTTP == http.StatusPreconditionFailed || f.HTTP == 409:
		return http.StatusBadRequest
	case f.HTTP == 499:
		return http.StatusBadRequest
	}
	return f.HTTP
}
