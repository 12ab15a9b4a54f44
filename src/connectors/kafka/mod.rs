//! kafka connector (work in progress on its branch).
