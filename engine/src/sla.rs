//! SLA rules and their clocks: placeholder, filled in below.
