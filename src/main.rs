//! `redust-server [/path/to/redis.conf] [--directive value ...]`

#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() {
    std::process::exit(redust::startup::main());
}
