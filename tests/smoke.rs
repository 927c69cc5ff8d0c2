mod common;
use common::*;

#[test]
fn ping_set_get_through_redis_crate() {
    let s = Server::start(&[]);
    let mut c = s.client();
    let pong: String = redis::cmd("PING").query(&mut c).unwrap();
    assert_eq!(pong, "PONG");
    let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut c).unwrap();
    let v: String = redis::cmd("GET").arg("k").query(&mut c).unwrap();
    assert_eq!(v, "v");
    let mut r = s.raw();
    assert_eq!(r.call(&["GET", "k"]), bulk("v"));
}
