//! nats connector (work in progress on its branch).
