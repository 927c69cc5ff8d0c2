//! `redust-server [/path/to/redis.conf] [--directive value ...]`

#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    let code = redust::persist::check::dispatch(&argv).unwrap_or_else(redust::startup::main);
    std::process::exit(code);
}
