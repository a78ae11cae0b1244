//! The simulator applies SR's result PATCH (and its candidate/job overrides) with `json_patch::merge`.
//! These are RFC 7396's own vectors, so swapping the crate can never change what SR would store.

use serde_json::{json, Value};

/// Test vectors from RFC 7396 appendix A.
#[test]
fn rfc7396_examples() {
    let cases = [
        (json!({"a":"b"}), json!({"a":"c"}), json!({"a":"c"})),
        (json!({"a":"b"}), json!({"b":"c"}), json!({"a":"b","b":"c"})),
        (json!({"a":"b"}), json!({"a":null}), json!({})),
        (
            json!({"a":"b","b":"c"}),
            json!({"a":null}),
            json!({"b":"c"}),
        ),
        (json!({"a":["b"]}), json!({"a":"c"}), json!({"a":"c"})),
        (json!({"a":"c"}), json!({"a":["b"]}), json!({"a":["b"]})),
        (
            json!({"a":{"b":"c"}}),
            json!({"a":{"b":"d","c":null}}),
            json!({"a":{"b":"d"}}),
        ),
        (json!({"a":[{"b":"c"}]}), json!({"a":[1]}), json!({"a":[1]})),
        (json!(["a", "b"]), json!(["c", "d"]), json!(["c", "d"])),
        (json!({"a":"b"}), json!(["c"]), json!(["c"])),
        (json!({"a":"foo"}), json!(null), json!(null)),
        (json!({"a":"foo"}), json!("bar"), json!("bar")),
        (json!({"e":null}), json!({"a":1}), json!({"e":null,"a":1})),
        (json!([1, 2]), json!({"a":"b","c":null}), json!({"a":"b"})),
        (
            json!({}),
            json!({"a":{"bb":{"ccc":null}}}),
            json!({"a":{"bb":{}}}),
        ),
    ];
    for (mut target, patch, expected) in cases {
        json_patch::merge(&mut target, &patch);
        assert_eq!(target, expected, "patch {patch}");
    }
}

#[test]
fn patch_onto_null_creates_object() {
    let mut target = Value::Null;
    json_patch::merge(
        &mut target,
        &json!({"status": "COMPLETED", "score": {"raw": 1, "min": 0, "max": 2}}),
    );
    assert_eq!(
        target,
        json!({"status": "COMPLETED", "score": {"raw": 1, "min": 0, "max": 2}})
    );
}
