// The seeds' example replies, written out once: the payment sandbox serves them and the adapters'
// unit tests decode them. Header-only; include as "tests/fakes/seed_examples.h".
#ifndef ORDERQUERY_TESTS_FAKES_SEED_EXAMPLES_H_
#define ORDERQUERY_TESTS_FAKES_SEED_EXAMPLES_H_

namespace orderquery::fakes {

// Seed 001 (../shared/seeds/001_*.txt, 返回示例): the merchant trade API's reply for order
// E01201908230414433510006, verbatim but for the comma the document lost after the goodsDesc
// array (the real upstream sends valid JSON). The sandbox's built-in trade order is its `data`.
inline constexpr char kSeed001ExampleReply[] = R"({
"code": 0,
"msg": "success",
"data": {
"tradeOrderId": "E01201908230414433510006",
"tradeType": 1,
"mchId": 20000000,
"appId": "",
"clientIp": "0:0:0:0:0:0:0:1",
"device": "",
"goodsId": "",
"subject": "被扫支付",
"body": "被扫支付",
"orderAmount": 1,
"discountAmount": 0,
"amount": 1,
"mchIncome": 1,
"userId": "134713461986047502",
"channelUserId": null,
"status": 1,
"payOrderId": "P01201908230414452700006",
"productId": "8020",
"productType": null,
"goodsDesc": [
{"cellPrice":12000,"currentPrice":10400,"discountAmount":400,"goodsId":100093,"goodsName":"奥尔良鸡腿堡","goodsNum":1,"goodsProps":""},
{"currentPrice":10000,"goodsId":-1,"goodsName":"茉莉花茶","goodsNum":1}
],
"couponId": null,
"storeNo": null,
"storeName": null,
"operatorId": "null",
"operatorName": "123",
"memberId": null,
"memberTel": null,
"givePoints": null,
"refundTotalAmount": 0,
"tradeSuccTime": "2019-08-23T11:12:21.000+0000",
"createTime": "2019-08-23T16:14:42.000+0000",
"updateTime": "2019-08-23T19:13:22.000+0000"
}
})";

// Seed 002 (../shared/seeds/002_*.txt, 应答示例 200 OK): WeChat Pay's vehicle (parking) order
// query reply, byte for byte. The sandbox's built-in vehicle order and default vehicle reply.
inline constexpr char kSeed002VehicleReply[] = R"({
  "appid" : "wxcbda96de0b165486",
  "sub_appid" : "wxcbda96de0b165489",
  "sp_mchid" : "1230000109",
  "sub_mchid" : "1900000109",
  "description" : "停车场扣费",
  "create_time" : "2017-08-26T10:43:39+08:00",
  "out_trade_no" : "20150806125346",
  "transaction_id" : "1009660380201506130728806387",
  "trade_state" : "SUCCESS",
  "trade_state_description" : "支付失败,请重新下单支付",
  "success_time" : "2017-08-26T10:43:39+08:00",
  "bank_type" : "CMC",
  "user_repaid" : "Y",
  "attach" : "深圳分店",
  "trade_scene" : "PARKING",
  "parking_info" : {
    "parking_id" : "5K8264ILTKCH16CQ250",
    "plate_number" : "粤B888888",
    "plate_color" : "BLUE",
    "start_time" : "2017-08-26T10:43:39+08:00",
    "end_time" : "2017-08-26T10:43:39+08:00",
    "parking_name" : "欢乐海岸停车场",
    "charging_duration" : 3600,
    "device_id" : "12313"
  },
  "payer" : {
    "openid" : "oUpF8uMuAJOM2pxb1Q",
    "sub_openid" : "oUpF8uMuAJOM2pxb1Q"
  },
  "amount" : {
    "total" : 888,
    "currency" : "CNY",
    "payer_total" : 100,
    "discount_total" : 100
  },
  "promotion_detail" : [
    {
      "coupon_id" : "109519",
      "name" : "单品惠-6",
      "scope" : "SINGLE",
      "type" : "CASH",
      "stock_id" : "931386",
      "amount" : 5,
      "wechatpay_contribute" : 1,
      "merchant_contribute" : 1,
      "other_contribute" : 1,
      "currency" : "CNY"
    }
  ]
})";

}  // namespace orderquery::fakes

#endif  // ORDERQUERY_TESTS_FAKES_SEED_EXAMPLES_H_
