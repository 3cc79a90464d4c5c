"""The reply layout must be byte-for-byte what Kamailio's jsonrpcs prints (kamctl's awk
filters read it). The expected texts were captured from Kamailio 5.6.3."""

from kamapy.rpc.json_text import dumps, quote


def test_scalar_result_layout():
    reply = {"jsonrpc": "2.0", "result": "kamailio 5.6.3 (x86_64/linux) ", "id": 1}
    assert dumps(reply) == '{\n\t"jsonrpc":\t"2.0",\n\t"result":\t"kamailio 5.6.3 (x86_64/linux) ",\n\t"id":\t1\n}'


def test_object_and_array_of_objects_layout():
    reply = {"jsonrpc": "2.0", "result": [{"IDX": 0, "PID": 11823, "DSC": "main"},
                                          {"IDX": 1, "PID": 11825, "DSC": "udp"}]}
    assert dumps(reply) == (
        '{\n\t"jsonrpc":\t"2.0",\n\t"result":\t[{\n\t\t\t"IDX":\t0,\n\t\t\t"PID":\t11823,\n'
        '\t\t\t"DSC":\t"main"\n\t\t}, {\n\t\t\t"IDX":\t1,\n\t\t\t"PID":\t11825,\n'
        '\t\t\t"DSC":\t"udp"\n\t\t}]\n}')


def test_array_of_scalars_on_one_line():
    assert dumps({"result": [11823, "main process - attendant", 11825]}) == \
        '{\n\t"result":\t[11823, "main process - attendant", 11825]\n}'


def test_empty_containers():
    assert dumps({"jsonrpc": "2.0", "result": {}, "id": 1}) == \
        '{\n\t"jsonrpc":\t"2.0",\n\t"result":\t{\n\t},\n\t"id":\t1\n}'
    assert dumps({"result": []}) == '{\n\t"result":\t[]\n}'


def test_nested_object():
    text = dumps({"result": {"aliases": [{"alias": {"port": "*"}}]}})
    assert text == ('{\n\t"result":\t{\n\t\t"aliases":\t[{\n\t\t\t\t"alias":\t{\n'
                    '\t\t\t\t\t"port":\t"*"\n\t\t\t\t}\n\t\t\t}]\n\t}\n}')


def test_string_escapes_as_kamailio():
    # captured: core.echo of "a\"\\\n\t\u00e9\u0001/"
    assert quote('a"\\\n\té\x01/') == '"a\\"\\\\\\n\\té\\u0001/"'


def test_numbers():
    assert dumps(1.5) == "1.500000"
    assert dumps(2.0) == "2"
    assert dumps(True) == "true" and dumps(None) == "null"
    assert dumps(12345678901234) == "12345678901234"


def test_unformatted():
    assert dumps({"a": [1, "x"], "b": {}}, pretty=False) == '{"a":[1,"x"],"b":{}}'
