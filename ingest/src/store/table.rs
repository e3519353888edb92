//! [`TableSpec`]: what the store needs to know about a table to lay out its files.

use datafusion::arrow::datatypes::{DataType, Schema};

use super::error::StoreError;
use super::layout::{DATE_KEY, TENANT_KEY, check_table_name};

/// A table the store writes segments for.
///
/// Declared once per table as a constant next to the table's schema, e.g.
/// `TableSpec { name: "events", tenant_column: "tenant_id", time_column: "occurred_at" }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TableSpec {
    /// The table's directory under the root and its SQL name: 1–128 characters of
    /// `[A-Za-z0-9_-]`, starting with a letter or digit.
    pub name: &'static str,
    /// The tenant id column: `Utf8` (or `LargeUtf8`, `Utf8View`, a string dictionary),
    /// never NULL, values matching the contract's `[A-Za-z0-9_.-]{1,64}`.
    pub tenant_column: &'static str,
    /// The column whose UTC date picks the `date=` directory: a `Timestamp` of any unit,
    /// normally `Timestamp(Millisecond, "UTC")`. NULLs go to `date=unknown`.
    pub time_column: &'static str,
}

impl TableSpec {
    /// Checks the table name and that `schema` has the tenant and time columns with usable
    /// types and no column named like a directory key.
    ///
    /// # Errors
    /// [`StoreError::InvalidName`], [`StoreError::ColumnMissing`],
    /// [`StoreError::ColumnType`] or [`StoreError::ReservedColumn`].
    pub(crate) fn check_schema(&self, schema: &Schema) -> Result<(), StoreError> {
        check_table_name(self.name)?;
        for reserved in [TENANT_KEY, DATE_KEY] {
            if schema.column_with_name(reserved).is_some() {
                return Err(StoreError::ReservedColumn {
                    table: self.name.to_owned(),
                    column: reserved.to_owned(),
                });
            }
        }
        let tenant_type = self.column_type(schema, self.tenant_column)?;
        if !is_string_type(tenant_type) {
            return Err(self.type_error(self.tenant_column, "a string type", tenant_type));
        }
        let time_type = self.column_type(schema, self.time_column)?;
        if !matches!(time_type, DataType::Timestamp(_, _)) {
            return Err(self.type_error(self.time_column, "a Timestamp", time_type));
        }
        Ok(())
    }

    fn column_type<'s>(
        &self,
        schema: &'s Schema,
        column: &str,
    ) -> Result<&'s DataType, StoreError> {
        schema
            .column_with_name(column)
            .map(|(_, field)| field.data_type())
            .ok_or_else(|| StoreError::ColumnMissing {
                table: self.name.to_owned(),
                column: column.to_owned(),
            })
    }

    fn type_error(&self, column: &str, expected: &'static str, found: &DataType) -> StoreError {
        StoreError::ColumnType {
            table: self.name.to_owned(),
            column: column.to_owned(),
            expected,
            found: found.clone(),
        }
    }
}

/// Types that Arrow's `cast` turns into `Utf8` without loss.
fn is_string_type(data_type: &DataType) -> bool {
    match data_type {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => true,
        DataType::Dictionary(_, values) => is_string_type(values),
        _ => false,
    }
}
