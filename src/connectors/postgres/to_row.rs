//! [`ToRow`]: the values of one row a sink writes.

use tokio_postgres::types::ToSql;

/// The values of one row, in the order of the sink's columns: implemented for tuples (up
/// to 16) of [`ToSql`] values, for arrays and `Vec`s of one `ToSql` type, and for
/// `Vec<Box<dyn ToSql + Send + Sync>>`.
pub trait ToRow {
    /// Pushes the row's values onto `out`.
    fn values<'a>(&'a self, out: &mut Vec<&'a (dyn ToSql + Sync)>);
}

macro_rules! tuple_to_row {
    ($($t:ident $i:tt),+) => {
        impl<$($t: ToSql + Sync),+> ToRow for ($($t,)+) {
            #[inline]
            fn values<'a>(&'a self, out: &mut Vec<&'a (dyn ToSql + Sync)>) {
                $(out.push(&self.$i);)+
            }
        }
    };
}

tuple_to_row!(A 0);
tuple_to_row!(A 0, B 1);
tuple_to_row!(A 0, B 1, C 2);
tuple_to_row!(A 0, B 1, C 2, D 3);
tuple_to_row!(A 0, B 1, C 2, D 3, E 4);
tuple_to_row!(A 0, B 1, C 2, D 3, E 4, F 5);
tuple_to_row!(A 0, B 1, C 2, D 3, E 4, F 5, G 6);
tuple_to_row!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7);
tuple_to_row!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8);
tuple_to_row!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9);
tuple_to_row!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10);
tuple_to_row!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11);
tuple_to_row!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11, M 12);
tuple_to_row!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11, M 12, N 13);
tuple_to_row!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11, M 12, N 13, O 14);
tuple_to_row!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11, M 12, N 13, O 14, P 15);

impl<T: ToSql + Sync, const N: usize> ToRow for [T; N] {
    fn values<'a>(&'a self, out: &mut Vec<&'a (dyn ToSql + Sync)>) {
        out.extend(self.iter().map(|v| v as &(dyn ToSql + Sync)));
    }
}

impl ToRow for Vec<Box<dyn ToSql + Send + Sync>> {
    fn values<'a>(&'a self, out: &mut Vec<&'a (dyn ToSql + Sync)>) {
        out.extend(self.iter().map(|v| &**v as &(dyn ToSql + Sync)));
    }
}
