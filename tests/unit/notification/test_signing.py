from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.notification.domain.signing import (
    SignatureError,
    aliyun_canonicalized_query,
    aliyun_percent_encode,
    aliyun_send_sms_params,
    aliyun_signature,
    aliyun_signed_query,
    aliyun_string_to_sign,
    dingtalk_sign,
    dingtalk_signed_url,
    hub_signature,
    hub_signature_headers,
    verify_aliyun_signature,
    verify_hub_signature,
)

# The worked example of Alibaba Cloud's SMS API documentation ("HTTP协议及签名").
ALIYUN_DOC_PARAMS = {
    "SignatureMethod": "HMAC-SHA1",
    "SignatureNonce": "45e25e9b-0a6f-4070-8c85-2956eda1b466",
    "AccessKeyId": "testId",
    "SignatureVersion": "1.0",
    "Timestamp": "2017-07-12T02:42:19Z",
    "Format": "XML",
    "Action": "SendSms",
    "Version": "2017-05-25",
    "RegionId": "cn-hangzhou",
    "PhoneNumbers": "15300000001",
    "SignName": "阿里云短信测试专用",
    "TemplateParam": '{"customer":"test"}',
    "TemplateCode": "SMS_71390007",
    "OutId": "123",
}
ALIYUN_DOC_STRING_TO_SIGN = (
    "GET&%2F&AccessKeyId%3DtestId%26Action%3DSendSms%26Format%3DXML%26OutId%3D123"
    "%26PhoneNumbers%3D15300000001%26RegionId%3Dcn-hangzhou%26SignName%3D%25E9%2598%25BF%25E9%2587%258C"
    "%25E4%25BA%2591%25E7%259F%25AD%25E4%25BF%25A1%25E6%25B5%258B%25E8%25AF%2595%25E4%25B8%2593%25E7%2594%25A8"
    "%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D45e25e9b-0a6f-4070-8c85-2956eda1b466"
    "%26SignatureVersion%3D1.0%26TemplateCode%3DSMS_71390007%26TemplateParam%3D%257B%2522customer%2522"
    "%253A%2522test%2522%257D%26Timestamp%3D2017-07-12T02%253A42%253A19Z%26Version%3D2017-05-25"
)
ALIYUN_DOC_URL_QUERY = (
    "Signature=zJDF%2BLrzhj%2FThnlvIToysFRq6t4%3D&AccessKeyId=testId&Action=SendSms&Format=XML&OutId=123"
    "&PhoneNumbers=15300000001&RegionId=cn-hangzhou&SignName=%E9%98%BF%E9%87%8C%E4%BA%91%E7%9F%AD%E4%BF%A1"
    "%E6%B5%8B%E8%AF%95%E4%B8%93%E7%94%A8&SignatureMethod=HMAC-SHA1"
    "&SignatureNonce=45e25e9b-0a6f-4070-8c85-2956eda1b466&SignatureVersion=1.0&TemplateCode=SMS_71390007"
    "&TemplateParam=%7B%22customer%22%3A%22test%22%7D&Timestamp=2017-07-12T02%3A42%3A19Z&Version=2017-05-25"
)


def test_aliyun_documented_sendsms_example() -> None:
    assert aliyun_string_to_sign("GET", ALIYUN_DOC_PARAMS) == ALIYUN_DOC_STRING_TO_SIGN
    assert aliyun_signature("testSecret", "GET", ALIYUN_DOC_PARAMS) == "zJDF+Lrzhj/ThnlvIToysFRq6t4="
    assert aliyun_signed_query("testSecret", "GET", ALIYUN_DOC_PARAMS) == ALIYUN_DOC_URL_QUERY


def test_aliyun_documented_rpc_example() -> None:
    # The example of Alibaba Cloud's generic RPC signature documentation (DescribeRegions).
    params = {
        "Format": "XML",
        "AccessKeyId": "testid",
        "Action": "DescribeRegions",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
        "SignatureVersion": "1.0",
        "Version": "2014-05-26",
        "Timestamp": "2016-02-23T12:46:24Z",
    }
    assert aliyun_signature("testsecret", "GET", params) == "OLeaidS1JvxuMvnyHOwuJ+uX5qY="


@pytest.mark.parametrize(
    ("raw", "encoded"),
    [(" ", "%20"), ("*", "%2A"), ("~", "~"), ("+", "%2B"), ("/", "%2F"), ("-_.", "-_."), ("综", "%E7%BB%BC")],
)
def test_aliyun_percent_encoding(raw: str, encoded: str) -> None:
    assert aliyun_percent_encode(raw) == encoded


def test_aliyun_signature_ignores_an_existing_signature_and_detects_tampering() -> None:
    signed = aliyun_signature("testSecret", "GET", ALIYUN_DOC_PARAMS)
    assert aliyun_signature("testSecret", "GET", {**ALIYUN_DOC_PARAMS, "Signature": "x"}) == signed
    assert "Signature=" not in aliyun_canonicalized_query({**ALIYUN_DOC_PARAMS, "Signature": "x"})
    assert verify_aliyun_signature("testSecret", "GET", ALIYUN_DOC_PARAMS, signed)
    tampered = {**ALIYUN_DOC_PARAMS, "PhoneNumbers": "15300000002"}
    assert not verify_aliyun_signature("testSecret", "GET", tampered, signed)
    assert not verify_aliyun_signature("testSecret", "POST", ALIYUN_DOC_PARAMS, signed)
    assert not verify_aliyun_signature("otherSecret", "GET", ALIYUN_DOC_PARAMS, signed)


def test_aliyun_send_sms_params() -> None:
    params = aliyun_send_sms_params(
        access_key_id="testId",
        phone_numbers="13800000000",
        sign_name="昆都仑区综治中心",
        template_code="SMS_000001",
        template_param_json='{"case_no":"KDL-20261122-0007"}',
        timestamp=datetime(2026, 11, 22, 9, 5, 7, tzinfo=ZoneInfo("Asia/Shanghai")),
        nonce="n-1",
    )
    assert params["Timestamp"] == "2026-11-22T01:05:07Z"
    assert params["Action"] == "SendSms" and params["Version"] == "2017-05-25"
    assert params["SignatureMethod"] == "HMAC-SHA1" and params["SignatureVersion"] == "1.0"
    assert "OutId" not in params
    assert aliyun_send_sms_params(**{**_send_kwargs(), "out_id": "d-1"})["OutId"] == "d-1"
    with pytest.raises(ValueError, match="aware"):
        aliyun_send_sms_params(**{**_send_kwargs(), "timestamp": datetime(2026, 11, 22, 9, 5)})


def _send_kwargs() -> dict:
    return {
        "access_key_id": "k",
        "phone_numbers": "13800000000",
        "sign_name": "昆都仑区综治中心",
        "template_code": "SMS_000001",
        "template_param_json": "{}",
        "timestamp": datetime(2026, 11, 22, tzinfo=UTC),
        "nonce": "n",
    }


def test_dingtalk_sign_matches_an_independent_computation() -> None:
    # printf '1700000000001\nSECtest' | openssl dgst -sha256 -hmac SECtest -binary | base64
    # → r4CWp/Dz+Ng0sbTjH1vB0Fr+uQ2fn831mssaN6/C05I=  (url-encoded below)
    assert dingtalk_sign("SECtest", 1700000000001) == "r4CWp%2FDz%2BNg0sbTjH1vB0Fr%2BuQ2fn831mssaN6%2FC05I%3D"
    assert dingtalk_sign("SECtest", 1700000000000) == "aZLLrriXgn05YbwaGR7knYsLeJADjr9NwLaNNKpxh4g%3D"
    assert dingtalk_sign("SECother", 1700000000000) != dingtalk_sign("SECtest", 1700000000000)


def test_dingtalk_signed_url() -> None:
    url = dingtalk_signed_url(
        "https://oapi.dingtalk.com/robot/send?access_token=abc", "SECtest", 1700000000000
    )
    assert url == (
        "https://oapi.dingtalk.com/robot/send?access_token=abc"
        "&timestamp=1700000000000&sign=aZLLrriXgn05YbwaGR7knYsLeJADjr9NwLaNNKpxh4g%3D"
    )
    assert dingtalk_signed_url("https://robot.example/hook", "SECtest", 1).startswith(
        "https://robot.example/hook?timestamp=1&sign="
    )


SECRET = "s3cret"
BODY = b'{"a":1}'
SENT = datetime.fromtimestamp(1700000000, tz=UTC)
# printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac s3cret   (and -sm3)
SHA256_SIG = "sha256=1698a50bc74d1ff1db85c4e0a5297c2ad9fdba245d5737cdb789e4cc6e098940"
SM3_SIG = "sm3=c7995db4e3cafe8340b895473f87956721a6101cfd6c58b6e52846b977666826"


def test_hub_signature_matches_an_independent_computation() -> None:
    assert hub_signature(SECRET, "1700000000", BODY) == SHA256_SIG
    assert hub_signature(SECRET.encode(), "1700000000", BODY) == SHA256_SIG
    assert hub_signature(SECRET, "1700000000", BODY, algorithm="sm3") == SM3_SIG
    assert hub_signature_headers(SECRET, BODY, SENT) == {
        "X-Hub-Timestamp": "1700000000",
        "X-Hub-Signature": SHA256_SIG,
    }


def test_hub_signature_verifies_within_the_window() -> None:
    verify_hub_signature(SECRET, "1700000000", BODY, SHA256_SIG, SENT)
    verify_hub_signature(SECRET, "1700000000", BODY, SHA256_SIG.upper().replace("SHA256", "sha256"), SENT)
    verify_hub_signature(SECRET, "1700000000", BODY, SHA256_SIG, SENT + timedelta(minutes=5))
    verify_hub_signature(SECRET, "1700000000", BODY, SHA256_SIG, SENT - timedelta(minutes=5))
    verify_hub_signature(SECRET, "1700000000", BODY, SM3_SIG, SENT, algorithm="sm3")


def _reason(**overrides: object) -> str:
    args: dict = {
        "secret": SECRET,
        "timestamp": "1700000000",
        "body": BODY,
        "signature": SHA256_SIG,
        "now": SENT,
    }
    args.update(overrides)
    with pytest.raises(SignatureError) as excinfo:
        verify_hub_signature(**args)
    return excinfo.value.reason


def test_hub_signature_rejects_tampering() -> None:
    assert _reason(body=b'{"a":2}') == "mismatch"
    assert _reason(timestamp="1700000001") == "mismatch"
    assert _reason(secret="other") == "mismatch"
    assert _reason(signature="sha256=" + "0" * 64) == "mismatch"


def test_hub_signature_rejects_stale_and_future_timestamps() -> None:
    assert _reason(now=SENT + timedelta(minutes=5, seconds=1)) == "stale"
    assert _reason(now=SENT - timedelta(minutes=5, seconds=1)) == "stale"
    assert _reason(now=SENT + timedelta(seconds=31), tolerance=timedelta(seconds=30)) == "stale"


def test_hub_signature_rejects_malformed_headers() -> None:
    assert _reason(timestamp="１７００００００００") == "malformed"
    assert _reason(timestamp="1700000000.5") == "malformed"
    assert _reason(timestamp="") == "malformed"
    assert _reason(signature=SHA256_SIG.removeprefix("sha256=")) == "malformed"
    assert _reason(signature="sha256=") == "malformed"
    # The sender may not pick the algorithm: an SM3 signature is refused where SHA-256 is configured.
    assert _reason(signature=SM3_SIG) == "malformed"


def test_hub_signature_refuses_weak_configuration() -> None:
    with pytest.raises(ValueError, match="algorithm"):
        hub_signature(SECRET, "1700000000", BODY, algorithm="md5")
    with pytest.raises(ValueError, match="empty"):
        hub_signature("", "1700000000", BODY)


def test_query_send_details_params_are_the_documented_ones_and_sign_like_any_call() -> None:
    from services.notification.domain.signing import aliyun_query_send_details_params

    params = aliyun_query_send_details_params(
        access_key_id="testId",
        phone_number="13812341234",
        send_date="20261122",
        timestamp=datetime(2026, 11, 22, 8, 0, tzinfo=UTC),
        nonce="n-1",
        page_size=50,
        current_page=2,
    )
    assert params["Action"] == "QuerySendDetails" and params["Version"] == "2017-05-25"
    assert (params["PhoneNumber"], params["SendDate"], params["PageSize"], params["CurrentPage"]) == (
        "13812341234",
        "20261122",
        "50",
        "2",
    )
    assert "BizId" not in params
    assert verify_aliyun_signature("secret", "POST", params, aliyun_signature("secret", "POST", params))
    for bad in ({"send_date": "2026-11-22"}, {"page_size": 51}, {"current_page": 0}):
        kwargs = {
            "access_key_id": "i",
            "phone_number": "1",
            "send_date": "20261122",
            "timestamp": datetime.now(UTC),
            "nonce": "n",
            **bad,
        }
        with pytest.raises(ValueError):
            aliyun_query_send_details_params(**kwargs)  # type: ignore[arg-type]


def test_dingtalk_sign_verifies_and_refuses_a_forgery_or_a_stale_timestamp() -> None:
    from urllib.parse import unquote_plus

    from services.notification.domain.signing import verify_dingtalk_sign

    now = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
    ts = int(now.timestamp() * 1000)
    sign = unquote_plus(dingtalk_sign("SEC-robot", ts))  # as the robot's web server decodes it
    verify_dingtalk_sign("SEC-robot", str(ts), sign, now)
    with pytest.raises(SignatureError) as forged:
        verify_dingtalk_sign("SEC-other", str(ts), sign, now)
    assert forged.value.reason == "mismatch"
    with pytest.raises(SignatureError) as stale:
        verify_dingtalk_sign("SEC-robot", str(ts), sign, now + timedelta(hours=2))
    assert stale.value.reason == "stale"
    with pytest.raises(SignatureError) as malformed:
        verify_dingtalk_sign("SEC-robot", "１２３", sign, now)
    assert malformed.value.reason == "malformed"
