//! `pgsec` end to end, as the built binary against real servers from pgsec-testkit: the
//! live audit, fleets, ping over a Unix socket, the demo and the HTML report in headless
//! Chromium. One test binary (one link, one shared server) instead of five.
//! (`ping` and `isolation` stay binaries of their own: `scripts/test.sh` runs them again
//! on every other PostgreSQL major.)

mod demo;
mod fleet;
mod html_report;
mod live;
mod ping_socket;
