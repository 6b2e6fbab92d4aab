//! Statements written once for both stores. The admin tool's queries are not on the sync hot
//! path, so they go through one small interface: `$1`-style placeholders, and the few value
//! types SQLite and PostgreSQL map alike (integers, text, bytes; flags as 0/1 integers). The
//! sync path keeps its hand-tuned statements per store (`sqlite.rs`, `pg/mod.rs`).

use std::borrow::Cow;

use postgres::types::{ToSql as PgToSql, Type};
use rusqlite::types::{ToSqlOutput, ValueRef};

use super::{StoreError, StoreResult};

/// A value bound to, or read from, a shared statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqlValue {
    Null,
    Int(i64),
    Text(String),
    Bytes(Vec<u8>),
}

impl SqlValue {
    pub fn int(&self) -> Option<i64> {
        match self {
            SqlValue::Int(n) => Some(*n),
            _ => None,
        }
    }

    pub fn text(&self) -> Option<&str> {
        match self {
            SqlValue::Text(t) => Some(t),
            _ => None,
        }
    }

    pub fn bytes(&self) -> Option<&[u8]> {
        match self {
            SqlValue::Bytes(b) => Some(b),
            _ => None,
        }
    }

    pub fn flag(&self) -> bool {
        self.int().is_some_and(|n| n != 0)
    }
}

impl From<i64> for SqlValue {
    fn from(n: i64) -> Self {
        SqlValue::Int(n)
    }
}

impl From<u32> for SqlValue {
    fn from(n: u32) -> Self {
        SqlValue::Int(i64::from(n))
    }
}

impl From<u64> for SqlValue {
    fn from(n: u64) -> Self {
        SqlValue::Int(i64::try_from(n).unwrap_or(i64::MAX))
    }
}

impl From<bool> for SqlValue {
    fn from(b: bool) -> Self {
        SqlValue::Int(i64::from(b))
    }
}

impl From<&str> for SqlValue {
    fn from(t: &str) -> Self {
        SqlValue::Text(t.to_owned())
    }
}

impl From<String> for SqlValue {
    fn from(t: String) -> Self {
        SqlValue::Text(t)
    }
}

impl From<Vec<u8>> for SqlValue {
    fn from(b: Vec<u8>) -> Self {
        SqlValue::Bytes(b)
    }
}

impl<T: Into<SqlValue>> From<Option<T>> for SqlValue {
    fn from(v: Option<T>) -> Self {
        v.map_or(SqlValue::Null, Into::into)
    }
}

/// One row of a shared query, its columns in the statement's order.
pub type SqlRow = Vec<SqlValue>;

/// A transaction of either store, for shared statements.
pub trait SqlTx {
    /// Runs a statement; how many rows it changed.
    fn execute(&mut self, sql: &str, params: &[SqlValue]) -> StoreResult<u64>;
    /// Runs a query; every row.
    fn query(&mut self, sql: &str, params: &[SqlValue]) -> StoreResult<Vec<SqlRow>>;

    /// The first row, if any.
    fn query_opt(&mut self, sql: &str, params: &[SqlValue]) -> StoreResult<Option<SqlRow>> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    /// The first column of the first row, as an integer (0 when there is none).
    fn query_int(&mut self, sql: &str, params: &[SqlValue]) -> StoreResult<i64> {
        Ok(self
            .query_opt(sql, params)?
            .and_then(|row| row.first().and_then(SqlValue::int))
            .unwrap_or(0))
    }
}

/// `$1` placeholders as SQLite's `?1` (SQLite would read `$1` as a named parameter, numbered
/// by first appearance rather than by its digits).
fn sqlite_placeholders(sql: &str) -> Cow<'_, str> {
    if !sql.contains('$') {
        return Cow::Borrowed(sql);
    }
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('?');
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

impl rusqlite::ToSql for SqlValue {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            SqlValue::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            SqlValue::Int(n) => ToSqlOutput::Borrowed(ValueRef::Integer(*n)),
            SqlValue::Text(t) => ToSqlOutput::Borrowed(ValueRef::Text(t.as_bytes())),
            SqlValue::Bytes(b) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
        })
    }
}

/// A SQLite transaction as a [`SqlTx`].
pub(crate) struct SqliteSql<'a, 'c>(pub &'a rusqlite::Transaction<'c>);

impl SqlTx for SqliteSql<'_, '_> {
    fn execute(&mut self, sql: &str, params: &[SqlValue]) -> StoreResult<u64> {
        let n = self
            .0
            .prepare_cached(&sqlite_placeholders(sql))?
            .execute(rusqlite::params_from_iter(params))?;
        Ok(n as u64)
    }

    fn query(&mut self, sql: &str, params: &[SqlValue]) -> StoreResult<Vec<SqlRow>> {
        let mut stmt = self.0.prepare_cached(&sqlite_placeholders(sql))?;
        let columns = stmt.column_count();
        let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let mut values = Vec::with_capacity(columns);
            for i in 0..columns {
                values.push(match row.get_ref(i)? {
                    ValueRef::Null => SqlValue::Null,
                    ValueRef::Integer(n) => SqlValue::Int(n),
                    ValueRef::Text(t) => SqlValue::Text(String::from_utf8_lossy(t).into_owned()),
                    ValueRef::Blob(b) => SqlValue::Bytes(b.to_vec()),
                    ValueRef::Real(r) => {
                        return Err(StoreError::Damaged(format!(
                            "a shared query read a float ({r}), which no shared column holds"
                        )));
                    }
                });
            }
            out.push(values);
        }
        Ok(out)
    }
}

/// A PostgreSQL transaction as a [`SqlTx`]: each value is bound as the Rust type of the
/// parameter's PostgreSQL type, which the server infers when the statement is prepared.
pub(crate) struct PgSql<'a, 't>(pub &'a mut postgres::Transaction<'t>);

fn pg_param(value: &SqlValue, ty: &Type) -> StoreResult<Box<dyn PgToSql + Sync>> {
    let mismatch = || {
        StoreError::Database(format!(
            "a shared statement binds {value:?} to a parameter of type {ty}"
        ))
    };
    let int = |n: Option<i64>| -> StoreResult<Box<dyn PgToSql + Sync>> {
        Ok(match *ty {
            Type::INT8 => Box::new(n),
            Type::INT4 => Box::new(n.map(i32::try_from).transpose().map_err(|_| mismatch())?),
            Type::INT2 => Box::new(n.map(i16::try_from).transpose().map_err(|_| mismatch())?),
            Type::BOOL => Box::new(n.map(|n| n != 0)),
            _ => return Err(mismatch()),
        })
    };
    match value {
        SqlValue::Int(n) => int(Some(*n)),
        SqlValue::Text(t) if *ty == Type::TEXT || *ty == Type::VARCHAR => Ok(Box::new(t.clone())),
        SqlValue::Bytes(b) if *ty == Type::BYTEA => Ok(Box::new(b.clone())),
        SqlValue::Null => match *ty {
            Type::TEXT | Type::VARCHAR => Ok(Box::new(None::<String>)),
            Type::BYTEA => Ok(Box::new(None::<Vec<u8>>)),
            _ => int(None),
        },
        _ => Err(mismatch()),
    }
}

fn pg_value(row: &postgres::Row, i: usize) -> StoreResult<SqlValue> {
    let ty = row.columns()[i].type_().clone();
    let get_err = |e: postgres::Error| StoreError::Database(e.to_string());
    Ok(match ty {
        Type::INT8 => row.try_get::<_, Option<i64>>(i).map_err(get_err)?.into(),
        Type::INT4 => row
            .try_get::<_, Option<i32>>(i)
            .map_err(get_err)?
            .map(i64::from)
            .into(),
        Type::INT2 => row
            .try_get::<_, Option<i16>>(i)
            .map_err(get_err)?
            .map(i64::from)
            .into(),
        Type::BOOL => row
            .try_get::<_, Option<bool>>(i)
            .map_err(get_err)?
            .map(i64::from)
            .into(),
        Type::TEXT | Type::VARCHAR | Type::NAME => {
            row.try_get::<_, Option<String>>(i).map_err(get_err)?.into()
        }
        Type::BYTEA => row
            .try_get::<_, Option<Vec<u8>>>(i)
            .map_err(get_err)?
            .into(),
        other => {
            return Err(StoreError::Database(format!(
                "a shared query read a column of type {other}"
            )));
        }
    })
}

impl PgSql<'_, '_> {
    fn bind(
        &mut self,
        sql: &str,
        params: &[SqlValue],
    ) -> StoreResult<(postgres::Statement, Vec<Box<dyn PgToSql + Sync>>)> {
        let stmt = self.0.prepare(sql)?;
        if stmt.params().len() != params.len() {
            return Err(StoreError::Database(format!(
                "a shared statement takes {} parameters, given {}",
                stmt.params().len(),
                params.len()
            )));
        }
        let bound = params
            .iter()
            .zip(stmt.params())
            .map(|(v, ty)| pg_param(v, ty))
            .collect::<StoreResult<Vec<_>>>()?;
        Ok((stmt, bound))
    }
}

impl SqlTx for PgSql<'_, '_> {
    fn execute(&mut self, sql: &str, params: &[SqlValue]) -> StoreResult<u64> {
        let (stmt, bound) = self.bind(sql, params)?;
        let refs: Vec<&(dyn PgToSql + Sync)> = bound.iter().map(|b| b.as_ref()).collect();
        Ok(self.0.execute(&stmt, &refs)?)
    }

    fn query(&mut self, sql: &str, params: &[SqlValue]) -> StoreResult<Vec<SqlRow>> {
        let (stmt, bound) = self.bind(sql, params)?;
        let refs: Vec<&(dyn PgToSql + Sync)> = bound.iter().map(|b| b.as_ref()).collect();
        self.0
            .query(&stmt, &refs)?
            .iter()
            .map(|row| (0..row.len()).map(|i| pg_value(row, i)).collect())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dollar_placeholders_become_sqlite_numbered_ones() {
        assert_eq!(
            sqlite_placeholders("SELECT $2, '$x', $10 WHERE a = $1"),
            "SELECT ?2, '$x', ?10 WHERE a = ?1"
        );
        assert!(matches!(sqlite_placeholders("SELECT 1"), Cow::Borrowed(_)));
    }
}
