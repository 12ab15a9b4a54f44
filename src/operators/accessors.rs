//! `stream_accessors!`: the `get_ref`/`get_mut`/`get_pin_mut` trio every operator offers
//! on its upstream, written once (futures-util's `delegate_access_inner!` idea). Each
//! operator writes its own `into_inner` (or `into_parts` when it holds items, so none is
//! lost).

/// Generates the three accessors to the upstream stream stored in field `$field`.
macro_rules! stream_accessors {
    ($field:ident : $ty:ty) => {
        /// The upstream stream.
        pub fn get_ref(&self) -> &$ty {
            &self.$field
        }

        /// The upstream stream, mutably. Pulling items from it directly skips the operator.
        pub fn get_mut(&mut self) -> &mut $ty {
            &mut self.$field
        }

        /// The upstream stream, pinned. Pulling items from it directly skips the operator.
        pub fn get_pin_mut(self: ::std::pin::Pin<&mut Self>) -> ::std::pin::Pin<&mut $ty> {
            self.project().$field
        }
    };
}

pub(crate) use stream_accessors;
