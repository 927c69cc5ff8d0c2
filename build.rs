fn main() {
    println!("cargo:rerun-if-changed=src/util/longdouble.c");
    cc::Build::new()
        .file("src/util/longdouble.c")
        .opt_level(2)
        .warnings(true)
        .compile("redust_longdouble");
}
