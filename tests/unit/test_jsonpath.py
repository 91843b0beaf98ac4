"""kubectl's JSONPath dialect (kcli.core.jsonpath): ``-o jsonpath=`` and ``-o custom-columns=`` output.

Expected strings are what kubectl (client-go ``util/jsonpath``, missing keys allowed) prints for the same
template and JSON; the upstream test-suite's cases are reproduced at the end.
"""

from __future__ import annotations

import copy
import json

import pytest

from kcli.core.jsonpath import JsonPathError, column_value, evaluate, render

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def pod(name: str, ip: str, node: str, phase: str = "Running", restarts: int = 0) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": "default",
            "labels": {"app": name, "tier": "frontend"},
            "annotations": {LAST_APPLIED: '{"kind":"Pod"}\n', "team": "blue"},
        },
        "spec": {
            "nodeName": node,
            "containers": [
                {"name": "app", "image": f"{name}:1.0", "ports": [{"containerPort": 8080, "protocol": "TCP"}]},
                {"name": "sidecar", "image": "envoy:1.29"},
            ],
        },
        "status": {
            "phase": phase,
            "podIP": ip,
            "ready": phase == "Running",
            "containerStatuses": [{"name": "app", "restartCount": restarts}],
        },
    }


WEB = pod("web", "10.244.1.5", "node-1", restarts=2)
DB = pod("db", "10.244.2.7", "node-2", phase="Pending")
CACHE = pod("cache", "10.244.1.9", "node-1", restarts=5)
PODS = {"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": [WEB, DB, CACHE]}
SVC = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "web", "namespace": "default"},
    "spec": {
        "type": "ClusterIP",
        "clusterIP": "10.96.0.10",
        "selector": {"app": "web"},
        "ports": [
            {"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"},
            {"name": "https", "port": 443, "targetPort": 8443, "protocol": "TCP"},
        ],
    },
}


# --- the scripts users write most -------------------------------------------------------------------------------------


def test_service_cluster_ip():
    assert render("{.spec.clusterIP}", SVC) == "10.96.0.10"


def test_range_over_a_list_of_pods():
    template = '{range .items[*]}{.metadata.name} {.status.podIP} {.spec.nodeName}{"\\n"}{end}'
    assert render(template, PODS) == "web 10.244.1.5 node-1\ndb 10.244.2.7 node-2\ncache 10.244.1.9 node-1\n"


def test_filter_on_a_list():
    assert render('{.items[?(@.metadata.name=="web")].status.podIP}', PODS) == "10.244.1.5"


@pytest.mark.parametrize(
    "template",
    [
        r"{.metadata.annotations['kubectl\.kubernetes\.io/last-applied-configuration']}",
        r"{.metadata.annotations.kubectl\.kubernetes\.io/last-applied-configuration}",
        r'{.metadata.annotations["kubectl\.kubernetes\.io/last-applied-configuration"]}',
        r"{$['metadata']['annotations']['kubectl\.kubernetes\.io/last-applied-configuration']}",
    ],
)
def test_annotation_keys_with_dots(template):
    assert render(template, WEB) == '{"kind":"Pod"}\n'


def test_a_quoted_key_is_a_path_as_in_kubectl():
    # kubectl parses ['a.b'] as .a.b: an unescaped dot inside the quotes still separates fields.
    assert render("{.metadata.annotations['kubectl.kubernetes.io/last-applied-configuration']}", WEB) == ""
    assert render("{['metadata.name']}", WEB) == "web"
    assert render("{.metadata.labels['app']}", WEB) == "web"


# --- text, the current object, fields -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "template, expected",
    [
        ("plain text", "plain text"),
        ("", ""),
        ("kind is {.kind}", "kind is Pod"),
        ("{.kind}/{.metadata.name}", "Pod/web"),
        ("a}b {.kind}", "a}b Pod"),
        ("{ .kind }", "Pod"),
        ("{$.kind}", "Pod"),
        ("{@.kind}", "Pod"),
        ("{.metadata.labels.app}", "web"),
        ("{.spec.containers[0].ports[0].containerPort}", "8080"),
        ("{.metadata.labels}", '{"app":"web","tier":"frontend"}'),
        ("{.metadata.name}{.metadata.namespace}", "webdefault"),
    ],
)
def test_text_and_fields(template, expected):
    assert render(template, WEB) == expected


def test_current_object():
    data = {"b": 1, "a": [True, None]}
    assert render("{@}", data) == render("{$}", data) == '{"a":[true,null],"b":1}'
    assert render("{.}", data) == ""  # kubectl: "." alone looks up the key "" (missing here)
    assert render("{.}", {"": "empty key"}) == "empty key"


@pytest.mark.parametrize(
    "template",
    ["{.nope}", "{.metadata.nope.deeper}", "{.spec.containers[*].nope}", "{.metadata.name.x}", "{.items[*].x}"],
)
def test_missing_keys_print_nothing(template):
    assert render(template, WEB) == ""


def test_missing_key_between_text():
    assert render("before-{.hello}after", WEB) == "before-after"


def test_fields_of_lists_and_scalars_are_missing_not_errors():
    assert render("{.spec.containers.name}", WEB) == ""
    assert render("{.kind.name}", WEB) == ""


# --- arrays: index, slice, wildcard, union --------------------------------------------------------------------------

NAMES = {"l": [{"n": f"c{i}"} for i in range(6)], "empty": [], "nothing": None}


@pytest.mark.parametrize(
    "template, expected",
    [
        ("{.l[0].n}", "c0"),
        ("{.l[5].n}", "c5"),
        ("{.l[-1].n}", "c5"),
        ("{.l[-6].n}", "c0"),
        ("{.l[1:3].n}", "c1 c2"),
        ("{.l[:2].n}", "c0 c1"),
        ("{.l[4:].n}", "c4 c5"),
        ("{.l[-2:].n}", "c4 c5"),
        ("{.l[0:-1].n}", "c0 c1 c2 c3 c4"),
        ("{.l[::2].n}", "c0 c2 c4"),
        ("{.l[1:6:2].n}", "c1 c3 c5"),
        ("{.l[0:6:5].n}", "c0 c5"),
        ("{.l[0:6:].n}", "c0 c1 c2 c3 c4 c5"),
        ("{.l[2:2].n}", ""),
        ("{.l[9:9].n}", ""),
        ("{.l[*].n}", "c0 c1 c2 c3 c4 c5"),
        ("{.l.*.n}", "c0 c1 c2 c3 c4 c5"),
        ("{.l[0,2,-1].n}", "c0 c2 c5"),
        ("{.l[0, 1].n}", "c0 c1"),
        ("{.empty[*]}", ""),
        ("{.nothing[0]}", ""),
        ("{.missing[0]}", ""),
    ],
)
def test_index_slice_wildcard_union(template, expected):
    assert render(template, NAMES) == expected


@pytest.mark.parametrize(
    "template, message",
    [
        ("{.l[6]}", "array index out of bounds: index 6, length 6"),
        ("{.l[-7]}", "array index out of bounds"),
        ("{.empty[0]}", "array index out of bounds: index 0, length 0"),
        ("{.l[3:1]}", "starting index 3 is greater than ending index 1"),
        ("{.l[-1:0]}", "starting index 5 is greater than ending index 0"),
        ("{.l[0:6:0]}", "step must be > 0"),
        ("{.l[0:6:-1]}", "step must be > 0"),
        ("{.l[0].n[0]}", "string is not array or slice"),
        ("{.l[0][0]}", "is not array or slice"),
    ],
)
def test_index_errors(template, message):
    # kubectl fails the whole template here, even with missing keys allowed
    with pytest.raises(JsonPathError, match="error executing jsonpath") as err:
        render(template, NAMES)
    assert message in str(err.value)


def test_kubectl_stops_at_the_first_empty_slice():
    # client-go returns as soon as one input selects nothing, dropping the inputs after it
    assert render("{.a[*].l[1:]}", {"a": [{"l": [1, 2]}, {"l": [3]}, {"l": [4, 5]}]}) == "2"


def test_wildcard_on_a_map_gives_its_values():
    assert render("{.metadata.labels.*}", WEB) == "web frontend"
    with pytest.raises(JsonPathError, match="is not array or slice"):
        render("{.metadata.labels[*]}", WEB)  # as in kubectl, [*] is a slice: maps need .*


def test_union_of_keys_is_a_union_of_paths():
    assert render("{.items[*]['metadata.name', 'status.podIP']}", PODS) == (
        "web db cache 10.244.1.5 10.244.2.7 10.244.1.9"
    )
    assert render("{.spec.ports[0]['name','port']}", SVC) == "http 80"


# --- recursive descent --------------------------------------------------------------------------------------------------


def test_recursive_descent():
    assert render("{..podIP}", PODS) == "10.244.1.5 10.244.2.7 10.244.1.9"
    assert render("{...podIP}", PODS) == "10.244.1.5 10.244.2.7 10.244.1.9"
    assert render("{..containerPort}", PODS) == "8080 8080 8080"
    assert render("{.spec..name}", WEB) == "app sidecar"
    assert render("{..}", [1, 2, 3]) == "[1,2,3]"  # only values with children, as kubectl
    assert render("{..}", {"a": {"b": 1}}) == '{"a":{"b":1}} {"b":1}'


def test_recursive_descent_then_index():
    assert render("{..containers[1].image}", WEB) == "envoy:1.29"


# --- filters ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "template, expected",
    [
        ('{.items[?(@.status.phase=="Running")].metadata.name}', "web cache"),
        ("{.items[?(@.status.phase=='Running')].metadata.name}", "web cache"),
        ('{.items[?(@.status.phase == "Running")].metadata.name}', "web cache"),
        ('{.items[?(@.status.phase!="Running")].metadata.name}', "db"),
        ('{.items[?(.status.phase=="Pending")].metadata.name}', "db"),
        ("{.items[?(@.status.containerStatuses[0].restartCount>2)].metadata.name}", "cache"),
        ("{.items[?(@.status.containerStatuses[0].restartCount>=2)].metadata.name}", "web cache"),
        ("{.items[?(@.status.containerStatuses[0].restartCount<2)].metadata.name}", "db"),
        ("{.items[?(@.status.containerStatuses[0].restartCount<=2)].metadata.name}", "web db"),
        ("{.items[?(@.status.containerStatuses[0].restartCount==5)].metadata.name}", "cache"),
        ('{.items[?(@.metadata.name<"d")].metadata.name}', "cache"),
        ("{.items[?(@.status.ready==true)].metadata.name}", "web cache"),
        ("{.items[?(@.status.ready!=true)].metadata.name}", "db"),
        ("{.spec.ports[?(@.port==80)].targetPort}", "8080"),
        ('{.spec.ports[?(@.name=="https")].port}', "443"),
        ("{.spec.ports[?(@.targetPort)].name}", "http https"),
        ("{.spec.ports[?(@.nope)].name}", ""),
        ("{.spec.ports[?(@.port==@.targetPort)].name}", ""),
        ('{.spec.ports[?(@.nope=="x")].name}', ""),
        ('{.items[?(@.metadata.name=="nope")].status.podIP}', ""),
        ('{.items[?(@.metadata.name=="web")].spec.containers[?(@.name=="sidecar")].image}', "envoy:1.29"),
    ],
)
def test_filters(template, expected):
    data = SVC if ".spec.ports" in template else PODS
    assert render(template, data) == expected


def test_filter_on_numbers_and_floats():
    data = {"l": [{"v": 1}, {"v": 2.5}, {"v": 3}], "f": [{"v": 0.5}, {"v": 2.5}]}
    assert render("{.f[?(@.v>1.0)].v}", data) == "2.5"
    assert render("{.l[?(@)].v}", data) == "1 2.5 3"
    assert render("{[?(@<5)]}", [2, 6, 3, 7]) == "2 3"
    with pytest.raises(JsonPathError, match="incompatible types for comparison"):
        render("{.l[?(@.v>1)].v}", data)  # Go templates never compare an int with a float


def test_existence_filter_keeps_null_values():
    data = [{"id": "a", "x": 4}, {"id": "b", "x": None}, {"id": "c"}]
    assert render("{[?(@.x)].id}", data) == "a b"
    with pytest.raises(JsonPathError, match="invalid type for comparison"):
        render("{[?(@.x==4)].id}", data)


def test_existence_filter_counts_an_error_as_a_match():
    data = {"items": [{"n": "one", "c": [1]}, {"n": "two", "c": [1, 2]}, {"n": "none"}]}
    assert render("{.items[?(@.c[1])].n}", data) == "one two"  # c[1] is out of range for "one": kubectl keeps it


def test_filter_quotes_may_hold_parentheses():
    data = [{"os": "()"}, {"os": 'a"b'}, {"os": "Linux"}]
    assert render('{[?(@.os == "()")].os}', data) == "()"
    assert render(r'{[?(@.os == "a\"b")].os}', data) == 'a"b'
    assert render("{[?(@.os=='Linux')].os}", data) == "Linux"


@pytest.mark.parametrize(
    "template, message",
    [
        ("{.items[?(@.x<>1)]}", "unrecognized filter operator <>"),
        ("{.items[?(@.x=1)]}", "unrecognized filter operator ="),
        ("{.items[?(@.x==1]}", "unterminated filter"),
        ("{.items[?(@.x==1)}", "unclosed array expect ]"),
        ("{.items[?(foo)]}", "unrecognized identifier foo"),
    ],
)
def test_bad_filters(template, message):
    # kubectl only notices these once a filter is executed on a non-empty list; they are rejected up front here
    with pytest.raises(JsonPathError, match="error parsing jsonpath") as err:
        render(template, PODS)
    assert message in str(err.value)


def test_filter_needs_a_single_value_and_a_list():
    with pytest.raises(JsonPathError, match="can only compare one element at a time"):
        render('{.items[?(@.spec.containers[*].name=="app")].metadata.name}', PODS)
    with pytest.raises(JsonPathError, match="cannot be filtered"):
        render("{.metadata[?(@.name)]}", WEB)


# --- range ... end ------------------------------------------------------------------------------------------------------


def test_nested_range():
    template = '{range .items[*]}{.metadata.name}:{range .spec.containers[*]}{.name},{end}{"\\n"}{end}'
    assert render(template, PODS) == "web:app,sidecar,\ndb:app,sidecar,\ncache:app,sidecar,\n"


def test_two_ranges_at_one_level_and_text_after():
    template = "{range .l[*]}{@}-{end}|{range .l[*]}{@}+{end}{.k}"
    assert render(template, {"l": [1, 2], "k": "!"}) == "1-2-|1+2+!"


def test_current_element_inside_range():
    assert render("{range .spec.ports[*]}{@.port} {end}", SVC) == "80 443 "
    assert render("{range .spec.ports[*]}[{@}]{end}", {"spec": {"ports": [1, "a"]}}) == "[1][a]"
    assert render("{range .spec.ports[*]}{$.port} {end}", SVC) == "80 443 "  # $ is the element too, as in kubectl


def test_range_over_map_values_and_filters():
    assert render("{range .metadata.labels.*}<{@}>{end}", WEB) == "<web><frontend>"
    template = '{range .items[?(@.status.phase=="Running")]}{.metadata.name} is Running\n{end}'
    assert render(template, PODS) == "web is Running\ncache is Running\n"


def test_range_over_nothing():
    assert render("{range .items[*]}{.metadata.name}{end}", {"items": []}) == ""
    assert render("{range .nope[*]}{.x}{end}done", {}) == "done"
    template = '{range .items[*]}{.metadata.name}{":"}{range @.spec.containers[*]}{.name}{","}{end}{"+"}{end}'
    assert render(template, {"items": []}) == ""


def test_null_range_element_prints_no_value():
    assert render("{range .l[*]}<{@}>{end}", {"l": [None, 1]}) == "<<no value>><1>"


def test_unclosed_range_runs_to_the_end():
    # kubectl iterates to the end of the template, then runs the tail once more against the outer object
    assert render("{range .l[*]}{.x},", {"l": [{"x": 1}, {"x": 2}], "x": "top"}) == "1,2,top,"
    assert render("{range .l[*]}{.x},", {"l": [{"x": 1}]}) == "1,,"


def test_end_without_range():
    with pytest.raises(JsonPathError, match="not in range, nothing to end"):
        render("{range .l[*]}{@}{end}{end}", {"l": [1]})


# --- literals -----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "template, expected",
    [
        ('{"\\n"}', "\n"),
        ("{'\\t'}", "\t"),
        ('{"\\r"}', "\r"),
        ('{"a\\\\b"}', "a\\b"),
        ('{"say \\"hi\\""}', 'say "hi"'),
        ("{'it\\'s'}", "it's"),
        ("{'\"'}", '"'),
        ('{"{"}', "{"),
        ('{"}"}', "}"),
        ('{"\\x41\\u00e9\\101"}', "AéA"),
        ('{"a b"}', "a b"),
        ("{''}", ""),
        ("{5}", "5"),
        ("{-2.5}", "-2.5"),
        ("{true}", "true"),
    ],
)
def test_string_and_number_literals(template, expected):
    assert render(template, {}) == expected


@pytest.mark.parametrize(
    "template, message",
    [
        ('{"\\q"}', "invalid syntax"),
        ('{"abc}', "unterminated quoted string"),
        ("{'\\\"'}", "invalid syntax"),
        ('{"a\nb"}', "unterminated quoted string"),
    ],
)
def test_bad_literals(template, message):
    with pytest.raises(JsonPathError, match=message):
        render(template, {})


# --- how values print -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, expected",
    [
        ("text", "text"),
        ("", ""),
        (7, "7"),
        (-3, "-3"),
        (2**62, "4611686018427387904"),
        (3.0, "3"),
        (2.5, "2.5"),
        (0.1, "0.1"),
        (100000.5, "100000.5"),
        (1e6, "1e+06"),  # Go's %v of a float64
        (1234567.5, "1.2345675e+06"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (-0.0, "-0"),
        (True, "true"),
        (False, "false"),
        (None, "null"),
        ([], "[]"),
        ({}, "{}"),
        ({"z": 1, "a": [1, "x", None, False, 2.0]}, '{"a":[1,"x",null,false,2],"z":1}'),
        ({"html": "<b>&</b>", "u": "café ✓"}, '{"html":"\\u003cb\\u003e\\u0026\\u003c/b\\u003e","u":"café ✓"}'),
        ([1e6, 1e21, 1e-7, 0.000001, 123456789.0], "[1000000,1e+21,1e-7,0.000001,123456789]"),  # Go's json.Marshal
        (["tab\there", 'q"uote', "back\\slash", "\x01"], '["tab\\there","q\\"uote","back\\\\slash","\\u0001"]'),
    ],
)
def test_value_formatting(value, expected):
    assert render("{.v}", {"v": value}) == expected


def test_several_results_are_joined_by_one_space():
    data = {"l": ["a", 1, 2.5, True, None, {"k": "v"}, [1]]}
    assert render("{.l[*]}", data) == 'a 1 2.5 true null {"k":"v"} [1]'


def test_render_leaves_the_data_alone():
    before = copy.deepcopy(PODS)
    render("{range .items[*]}{..}{.spec.containers[?(@.name=='app')]}{end}", PODS)
    assert PODS == before


def test_round_trip_from_json_text():
    data = json.loads('{"a": 3.0, "b": 3, "c": 1e2, "d": [0.5]}')
    assert render("{.a} {.b} {.c} {.d}", data) == "3 3 100 [0.5]"


# --- malformed templates ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "template, message",
    [
        ("{.metadata.name", "unclosed action"),
        ("{", "unclosed action"),
        ("{.a\n}", "unclosed action"),
        ("{hello}", "unrecognized identifier hello"),
        ("{len(.items)}", "unrecognized identifier len("),
        ("{*}", "unrecognized character in action: U+002A '*'"),
        ("{\t.a}", "unrecognized character in action"),
        ("{..*}", "unrecognized character in action"),
        ("{+12.3.0}", "cannot parse number +12.3.0"),
        ("{[1}", "unterminated array"),
        ("{.a[x]}", "invalid array index x"),
        ("{.a[1:b]}", "invalid array index 1:b"),
        ("{.a[-]}", "array index - is not a number"),
        ("{........}", "invalid multiple recursive descent"),
        ("{.a range}", "range and end must start an action"),
    ],
)
def test_malformed_templates(template, message):
    # (kubectl reports an unknown identifier when it executes the template, with the same message)
    with pytest.raises(JsonPathError) as err:
        render(template, PODS)
    assert str(err.value).startswith(f"error parsing jsonpath {template}, ")
    assert message in str(err.value)


def test_errors_are_value_errors():
    assert issubclass(JsonPathError, ValueError)
    with pytest.raises(ValueError):
        render("{.a", {})


# --- custom-columns -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("expr", [".metadata.name", "metadata.name", "{.metadata.name}", "{metadata.name}"])
def test_evaluate_accepts_kubectls_relaxed_forms(expr):
    assert evaluate(expr, WEB) == ["web"]


def test_evaluate_returns_the_raw_values():
    assert evaluate(".spec.containers[*].name", WEB) == ["app", "sidecar"]
    assert evaluate(".metadata.labels", WEB) == [{"app": "web", "tier": "frontend"}]
    assert evaluate(".status.containerStatuses[0].restartCount", WEB) == [2]
    assert evaluate(".nope", WEB) == []
    assert evaluate("", WEB) == []
    assert evaluate(r".metadata.annotations.kubectl\.kubernetes\.io/last-applied-configuration", WEB) == [
        '{"kind":"Pod"}\n'
    ]


@pytest.mark.parametrize("expr", ["{.a}{.b}", "{.a", "x}"])
def test_evaluate_rejects_what_kubectl_rejects(expr):
    with pytest.raises(JsonPathError, match="unexpected path string"):
        evaluate(expr, WEB)


def test_evaluate_reports_bad_paths():
    with pytest.raises(JsonPathError, match="unterminated array"):
        evaluate(".spec.containers[0", WEB)


@pytest.mark.parametrize(
    "expr, data, expected",
    [
        (".metadata.name", WEB, "web"),
        ("{.spec.containers[*].name}", WEB, "app,sidecar"),
        (".spec.containers[*].ports[*].containerPort", WEB, "8080"),
        (".metadata.nope", WEB, "<none>"),
        (".spec.nodeName", DB, "node-2"),
        (".status.ready", DB, "false"),
        (".metadata.labels", WEB, "map[app:web tier:frontend]"),  # Go's fmt.Sprint, not JSON
        (".spec.containers[1]", WEB, "map[image:envoy:1.29 name:sidecar]"),
        (".v", {"v": [1, "two", None, 2.5, 1e6]}, "[1 two <nil> 2.5 1e+06]"),
        (".v[*]", {"v": [1, "two", None]}, "1,two,<nil>"),
        (".v", {"v": None}, "<nil>"),
        (".v", {"v": "a\x1b[31mred\rx"}, "a^[[31mred\\rx"),  # terminal escapes are defused
        (".v", {"v": {}}, "map[]"),
        (".v", {"v": []}, "[]"),
        (".v[*]", {"v": []}, "<none>"),
    ],
)
def test_column_value(expr, data, expected):
    assert column_value(expr, data) == expected


# --- cases from client-go's own test-suite ------------------------------------------------------------------------------

NODES = {
    "kind": "List",
    "items": [
        {
            "kind": "None",
            "metadata": {"name": "127.0.0.1", "labels": {"kubernetes.io/hostname": "127.0.0.1"}},
            "status": {
                "capacity": {"cpu": "4"},
                "ready": True,
                "addresses": [{"type": "LegacyHostIP", "address": "127.0.0.1"}],
            },
        },
        {
            "kind": "None",
            "metadata": {"name": "127.0.0.2", "labels": {"kubernetes.io/hostname": "127.0.0.2"}},
            "status": {
                "capacity": {"cpu": "8"},
                "ready": False,
                "addresses": [
                    {"type": "LegacyHostIP", "address": "127.0.0.2"},
                    {"type": "another", "address": "127.0.0.3"},
                ],
            },
        },
    ],
    "users": [{"name": "myself", "user": {}}, {"name": "e2e", "user": {"username": "admin", "password": "secret"}}],
}


@pytest.mark.parametrize(
    "template, expected",
    [
        ("{range .items[*]}{.metadata.name}, {end}{.kind}", "127.0.0.1, 127.0.0.2, List"),
        ('{range .items[*]}{.metadata.name}{"\\t"}{end}', "127.0.0.1\t127.0.0.2\t"),
        ("{.items[*].status.addresses[*].address}", "127.0.0.1 127.0.0.2 127.0.0.3"),
        ("{range .items[*]}{range .status.addresses[*]}{.address}, {end}{end}", "127.0.0.1, 127.0.0.2, 127.0.0.3, "),
        ("{.items[*].metadata.name}", "127.0.0.1 127.0.0.2"),
        ("{.items[*]['metadata.name', 'status.capacity']}", '127.0.0.1 127.0.0.2 {"cpu":"4"} {"cpu":"8"}'),
        (
            "{range .items[*]}[{.metadata.name}, {.status.capacity}] {end}",
            '[127.0.0.1, {"cpu":"4"}] [127.0.0.2, {"cpu":"8"}] ',
        ),
        ('{.users[?(@.name=="e2e")].user.password}', "secret"),
        (r"{.items[0].metadata.labels.kubernetes\.io/hostname}", "127.0.0.1"),
        (r'{.items[?(@.metadata.labels.kubernetes\.io/hostname=="127.0.0.1")].kind}', "None"),
        ("{.items[?(@..ready==true)].metadata.name}", "127.0.0.1"),
        ("{..name}", "127.0.0.1 127.0.0.2 myself e2e"),
        ("{.users[0].name}", "myself"),
        ("kind is {.kind}", "kind is List"),
    ],
)
def test_upstream_kubernetes_cases(template, expected):
    assert render(template, NODES) == expected
