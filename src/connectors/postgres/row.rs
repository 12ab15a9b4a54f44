//! From a [`Row`] to the user's type: [`MapRow`] (a closure, [`FromRow`], or the row
//! itself) and [`FromRow`] for tuples of [`FromSql`](tokio_postgres::types::FromSql)
//! values.

use std::convert::Infallible;
use std::error::Error as StdError;
use std::fmt;
use std::marker::PhantomData;

use bytes::BytesMut;
use tokio_postgres::Row;
use tokio_postgres::types::{FromSql, FromSqlOwned, IsNull, ToSql, Type, to_sql_checked};

use crate::error::BoxError;

/// Turns a row into a source's item. Implemented for closures
/// `Fn(&Row) -> Result<T, E>`, for [`RawRows`] (the row itself) and for [`RowsAs`] (a
/// [`FromRow`] type); you rarely name it.
pub trait MapRow {
    /// The item.
    type Output;
    /// Why a row could not be turned into an item.
    type Error: Into<BoxError>;

    /// The item for `row`.
    ///
    /// # Errors
    ///
    /// The row does not fit the item type (a `NULL`, a wrong column type, a bad value).
    fn map_row(&self, row: Row) -> Result<Self::Output, Self::Error>;
}

impl<F, T, E> MapRow for F
where
    F: Fn(&Row) -> Result<T, E>,
    E: Into<BoxError>,
{
    type Output = T;
    type Error = E;

    #[inline]
    fn map_row(&self, row: Row) -> Result<T, E> {
        self(&row)
    }
}

/// The rows themselves, unmapped: what a source gives before `map_row` or `rows_as`.
#[derive(Debug, Clone, Copy, Default)]
pub struct RawRows;

impl MapRow for RawRows {
    type Output = Row;
    type Error = Infallible;

    #[inline]
    fn map_row(&self, row: Row) -> Result<Row, Infallible> {
        Ok(row)
    }
}

/// Rows read as a [`FromRow`] type: what `rows_as::<T>()` gives.
pub struct RowsAs<T>(PhantomData<fn() -> T>);

impl<T> RowsAs<T> {
    pub(crate) fn new() -> Self {
        RowsAs(PhantomData)
    }
}

impl<T> fmt::Debug for RowsAs<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RowsAs<{}>", std::any::type_name::<T>())
    }
}

impl<T: FromRow> MapRow for RowsAs<T> {
    type Output = T;
    type Error = BoxError;

    #[inline]
    fn map_row(&self, row: Row) -> Result<T, BoxError> {
        T::from_row(&row)
    }
}

/// A type read from a whole row: implemented for tuples (up to 12) of owned
/// [`FromSql`](tokio_postgres::types::FromSql) values, taken from the columns in order.
///
/// A `(i64, String)` reads `SELECT id, name FROM users`; a row of another width, a `NULL`
/// where the type is not an `Option`, or a column of another type is an error (the
/// driver's names the column).
pub trait FromRow: Sized {
    /// The value of `row`.
    ///
    /// # Errors
    ///
    /// The row has another number of columns, or a column does not convert.
    fn from_row(row: &Row) -> Result<Self, BoxError>;
}

/// The error for a row whose width is not the type's.
#[derive(Debug)]
struct Width {
    expected: usize,
    got: usize,
}

impl fmt::Display for Width {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the row has {} columns, the type reads {}",
            self.got, self.expected
        )
    }
}

impl StdError for Width {}

/// Checks that `row` has `n` columns.
fn width(row: &Row, n: usize) -> Result<(), BoxError> {
    if row.len() == n {
        Ok(())
    } else {
        Err(Box::new(Width {
            expected: n,
            got: row.len(),
        }))
    }
}

macro_rules! tuple_from_row {
    ($n:expr; $($t:ident $i:tt),+) => {
        impl<$($t: FromSqlOwned),+> FromRow for ($($t,)+) {
            fn from_row(row: &Row) -> Result<Self, BoxError> {
                width(row, $n)?;
                Ok(($(row.try_get::<_, $t>($i)?,)+))
            }
        }
    };
}

tuple_from_row!(1; A 0);
tuple_from_row!(2; A 0, B 1);
tuple_from_row!(3; A 0, B 1, C 2);
tuple_from_row!(4; A 0, B 1, C 2, D 3);
tuple_from_row!(5; A 0, B 1, C 2, D 3, E 4);
tuple_from_row!(6; A 0, B 1, C 2, D 3, E 4, F 5);
tuple_from_row!(7; A 0, B 1, C 2, D 3, E 4, F 5, G 6);
tuple_from_row!(8; A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7);
tuple_from_row!(9; A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8);
tuple_from_row!(10; A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9);
tuple_from_row!(11; A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10);
tuple_from_row!(12; A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11);

/// A column's value in the server's binary form, of any type: a work queue's key, read
/// from the selected row and sent back as an element of `= ANY($1)` without knowing its
/// type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawKey(Vec<u8>);

impl<'a> FromSql<'a> for RawKey {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        Ok(RawKey(raw.to_vec()))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

impl ToSql for RawKey {
    fn to_sql(&self, _: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        out.extend_from_slice(&self.0);
        Ok(IsNull::No)
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}
