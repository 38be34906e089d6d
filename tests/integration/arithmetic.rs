//! Arithmetic on the data's values: exact wherever the result fits its type, and where it
//! does not, E0409 with nothing committed — never a number wrapped around.

use crate::fixtures::{fresh_dir, semc, table_rows, url_of, write_batch};
use datafusion::arrow::array::{ArrayRef, Decimal128Array, Int32Array, Int64Array};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use std::sync::Arc;

/// Rows 1 and 2 hold the extremes of each type, rows 3 and 4 values whose results fit.
const PROGRAM: &str = r#"
source t from delta("t") { id: int64  v: int64  i: int32  d: decimal(38, 3) }
model plus from t { where id == 1  derive { x = v + 1 }  select { id, x } }
model minus from t { where id == 2  derive { x = v - 1 }  select { id, x } }
model negated from t { where id == 2  derive { x = -v }  select { id, x } }
model absolute from t { where id == 2  derive { x = abs(v) }  select { id, x } }
model squared from t { where id == 1  derive { x = i * i }  select { id, x } }
model total from t { where id == 1 or id == 4  aggregate { x = sum(v) } }
model running from t { where id == 1 or id == 4  derive { x = sum(v) over (order by id) }  select { id, x } }
model decimal_total from t { where id <= 2  aggregate { x = sum(d) } }
model decimal_groups from t { where id <= 2  group by k = id < 10  aggregate { x = sum(d) } }
model decimal_running from t { where id <= 2  derive { x = sum(d) over (order by id) }  select { id, x } }
model decimal_product from t { where id == 1  derive { x = d * d }  select { id, x } }
model to_short_decimal from t { where id == 1  derive { x = cast(v as decimal(3, 1)) }  select { id, x } }
model to_shorter_decimal from t { where id == 1  derive { x = cast(d as decimal(5, 1)) }  select { id, x } }
model fits from t {
  where id >= 3
  derive { a = v + 1, b = -v, c = i * i, e = d * d }
  select { id, a, b, c, e }
}
model fits_total from t { where id >= 3  aggregate { x = sum(v), y = sum(d) } }
output plus to delta("out/plus") mode overwrite
output minus to delta("out/minus") mode overwrite
output negated to delta("out/negated") mode overwrite
output absolute to delta("out/absolute") mode overwrite
output squared to delta("out/squared") mode overwrite
output total to delta("out/total") mode overwrite
output running to delta("out/running") mode overwrite
output decimal_total to delta("out/decimal_total") mode overwrite
output decimal_groups to delta("out/decimal_groups") mode overwrite
output decimal_running to delta("out/decimal_running") mode overwrite
output decimal_product to delta("out/decimal_product") mode overwrite
output to_short_decimal to delta("out/to_short_decimal") mode overwrite
output to_shorter_decimal to delta("out/to_shorter_decimal") mode overwrite
output fits to delta("out/fits") mode overwrite
output fits_total to delta("out/fits_total") mode overwrite
"#;

#[tokio::test]
async fn an_overflow_fails_the_run_instead_of_wrapping_around() {
    let dir = fresh_dir("arithmetic_overflow", &[]);
    std::fs::write(dir.join("main.sem"), PROGRAM).unwrap();
    // 10^35 - 0.001, the largest decimal(38, 3)
    let largest_decimal = 10i128.pow(38) - 1;
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(vec![1, 2, 3, 4])),
        Arc::new(Int64Array::from(vec![i64::MAX, i64::MIN, -7, i64::MAX - 1])),
        Arc::new(Int32Array::from(vec![i32::MAX, i32::MIN, 46_340, -3])),
        Arc::new(
            Decimal128Array::from(vec![largest_decimal, largest_decimal, 1_500, -2_250])
                .with_precision_and_scale(38, 3)
                .unwrap(),
        ),
    ];
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, true),
        Field::new("v", DataType::Int64, true),
        Field::new("i", DataType::Int32, true),
        Field::new("d", DataType::Decimal128(38, 3), true),
    ]));
    write_batch(&dir.join("t"), RecordBatch::try_new(schema, columns).unwrap(), None).await;
    let main = dir.join("main.sem");

    for output in [
        "plus",
        "minus",
        "negated",
        "absolute",
        "squared",
        "total",
        "running",
        "decimal_total",
        "decimal_groups",
        "decimal_running",
        "decimal_product",
        "to_short_decimal",
        "to_shorter_decimal",
    ] {
        let (code, _, err) = semc(&["run", main.to_str().unwrap(), "--output", output]);
        assert_eq!(code, 1, "{output}: {err}");
        assert!(
            err.contains("E0409") && !err.contains("internal error"),
            "{output}: {err}"
        );
        assert!(
            !dir.join("out").join(output).join("_delta_log").exists(),
            "{output}: nothing committed"
        );
    }

    // `show` reports the same fault, at the model it computes
    let (code, _, err) = semc(&["show", main.to_str().unwrap(), "--model", "to_short_decimal"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("E0409") && !err.contains("internal error"), "{err}");
    assert!(
        err.contains("main.sem:") && err.contains("while computing these rows"),
        "{err}"
    );

    let (code, _, err) = semc(&[
        "run",
        main.to_str().unwrap(),
        "--output",
        "fits",
        "--output",
        "fits_total",
    ]);
    assert_eq!(code, 0, "{err}");
    let mut fits = table_rows(url_of(&dir.join("out/fits")).as_ref()).await.1;
    fits.sort();
    assert_eq!(
        fits,
        [
            ["3", "-6", "7", "2147395600", "2.250000"],
            [
                "4",
                &i64::MAX.to_string(),
                &(-(i64::MAX - 1)).to_string(),
                "9",
                "5.062500"
            ],
        ]
    );
    let total = table_rows(url_of(&dir.join("out/fits_total")).as_ref()).await.1;
    assert_eq!(total, [[(i64::MAX - 8).to_string(), "-0.750".to_string()]]);
}

/// A decimal string's unscaled value and scale (`"-12.50"` is `(-1250, 2)`).
fn unscaled(s: &str) -> (i128, u32) {
    let (whole, fraction) = s.split_once('.').unwrap_or((s, ""));
    let digits = format!("{}{fraction}", whole.trim_start_matches('-'));
    let magnitude: i128 = digits.parse().unwrap_or_else(|_| panic!("{s} is not a decimal"));
    let sign = if s.starts_with('-') { -1 } else { 1 };
    (sign * magnitude, fraction.len() as u32)
}

/// Whether the decimal string `got` is `want`, an unscaled value at scale `scale` (or null).
fn same_decimal(got: &str, want: Option<i128>, scale: u32) -> bool {
    match want {
        None => got == "NULL",
        Some(w) => {
            let (g, s) = unscaled(got);
            // compared at the larger of the two scales
            let at = s.max(scale);
            g * 10i128.pow(at - s) == w * 10i128.pow(at - scale)
        }
    }
}

#[tokio::test]
async fn decimal_arithmetic_is_exact_in_batches_proven_safe_and_in_those_that_need_checks() {
    let dir = fresh_dir("decimal_arithmetic", &[]);
    std::fs::write(
        dir.join("main.sem"),
        r#"
source p from delta("p") { id: int64  a: decimal(15, 2)  b: decimal(15, 2)  c: decimal(12, 4)  big: decimal(38, 0) }
model exact from p {
  derive { x = a * (1 - b) * (1 + c), y = a + c, z = c - a, w = a * b, v = 2.5 - b, q = big * a }
  select { id, x, y, z, w, v, q }
}
output exact to delta("out/exact") mode overwrite
"#,
    )
    .unwrap();
    // 20,000 rows (several batches), negatives and nulls; in one batch a 33-digit `big`
    // beside 7-digit `a`s: that batch's bounds leave no room, it is computed with checks
    let rows = 20_000i64;
    let a = |id: i64| -> i128 {
        match id {
            15_000 => 3,
            _ => i128::from((id * 7_919) % 2_000_000 - 1_000_000),
        }
    };
    let b = |id: i64| i128::from(id % 11);
    let c = |id: i64| (id % 13 != 0).then(|| i128::from((id * 31) % 20_000 - 10_000));
    let big = |id: i64| match id {
        15_000 => 10i128.pow(32),
        _ => i128::from(id),
    };
    let ids: Vec<i64> = (0..rows).collect();
    let decimals = |f: &dyn Fn(i64) -> Option<i128>, p: u8, s: i8| -> ArrayRef {
        Arc::new(
            ids.iter()
                .map(|&id| f(id))
                .collect::<Decimal128Array>()
                .with_precision_and_scale(p, s)
                .unwrap(),
        )
    };
    let columns = vec![
        Arc::new(Int64Array::from(ids.clone())) as ArrayRef,
        decimals(&|id| Some(a(id)), 15, 2),
        decimals(&|id| Some(b(id)), 15, 2),
        decimals(&c, 12, 4),
        decimals(&|id| Some(big(id)), 38, 0),
    ];
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, true),
        Field::new("a", DataType::Decimal128(15, 2), true),
        Field::new("b", DataType::Decimal128(15, 2), true),
        Field::new("c", DataType::Decimal128(12, 4), true),
        Field::new("big", DataType::Decimal128(38, 0), true),
    ]));
    write_batch(&dir.join("p"), RecordBatch::try_new(schema, columns).unwrap(), None).await;

    let (code, _, err) = semc(&["run", dir.join("main.sem").to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let got = table_rows(url_of(&dir.join("out/exact")).as_ref()).await.1;
    assert_eq!(got.len(), rows as usize);
    for row in got {
        let id: i64 = row[0].parse().unwrap();
        let want: [(Option<i128>, u32); 6] = [
            (c(id).map(|c| a(id) * (100 - b(id)) * (10_000 + c)), 8),
            (c(id).map(|c| a(id) * 100 + c), 4),
            (c(id).map(|c| c - a(id) * 100), 4),
            (Some(a(id) * b(id)), 4),
            (Some(250 - b(id)), 2),
            (Some(big(id) * a(id)), 2),
        ];
        for (column, (value, scale)) in want.into_iter().enumerate() {
            let cell = &row[column + 1];
            assert!(
                same_decimal(cell, value, scale),
                "row {id}, column {}: {cell}, want {value:?} at scale {scale}",
                column + 1
            );
        }
    }
}

/// A sum of a `case` whose branches are an integer and a decimal of many digits: the engine
/// typed the `case` by its first branch (an integer) when it planned semc's checked decimal
/// sum, which then refused it as an internal error. The sum is exact.
#[tokio::test]
async fn a_sum_of_a_case_of_an_integer_and_a_decimal_is_exact() {
    let dir = fresh_dir("arithmetic_case_sum", &[]);
    std::fs::write(
        dir.join("main.sem"),
        r#"
source t from delta("t") { id: int64 }
model tiny from t { aggregate { x = sum(case when id > 2 then 0 else 0.0000000001 end) } }
model mixed from t { aggregate { x = sum(case when id > 2 then id else 0.0000000001 end) } }
"#,
    )
    .unwrap();
    crate::fixtures::int_table(&dir.join("t"), &[("id", (1..=4).map(Some).collect())]).await;
    let main = dir.join("main.sem");
    for (model, want) in [("tiny", "0.0000000002"), ("mixed", "7.0000000002")] {
        let (code, out, err) = semc(&["show", main.to_str().unwrap(), "--model", model, "--format", "csv"]);
        assert_eq!(code, 0, "{model}: {err}");
        assert_eq!(out.lines().nth(1), Some(want), "{model}: {out}");
    }
}

/// A decimal rounded to literal places keeps the type the plan gave it: the engine's
/// `round` typed its result one digit wider while the places were an int64 literal it had
/// to cast, and the same after its optimizer folded the cast; a `case` whose condition
/// folded to a constant then stood with the wider type where the plan's narrower one was
/// expected (an internal error).
#[tokio::test]
async fn a_decimal_rounded_to_literal_places_keeps_its_type() {
    let dir = fresh_dir("arithmetic_round_places", &[]);
    std::fs::write(
        dir.join("main.sem"),
        r#"
source t from delta("t") { id: int64 }
model folded from t {
  select { id, x = case when greatest(2147483647, id) is null then round(id - 3.25, 40) else 12345678901234567890.00 end }
}
model rounded from t { select { id, x = round(id - 3.256, 2), y = round(id * 10 + 0.5, -1) } }
"#,
    )
    .unwrap();
    crate::fixtures::int_table(&dir.join("t"), &[("id", (1..=3).map(Some).collect())]).await;
    let main = dir.join("main.sem");
    for (model, want) in [
        (
            "folded",
            "id,x\n1,12345678901234567890.00\n2,12345678901234567890.00\n3,12345678901234567890.00\n",
        ),
        ("rounded", "id,x,y\n1,-2.26,10\n2,-1.26,20\n3,-0.26,30\n"),
    ] {
        let (code, out, err) = semc(&["show", main.to_str().unwrap(), "--model", model, "--format", "csv"]);
        assert_eq!(code, 0, "{model}: {err}");
        assert_eq!(out, want, "{model}");
    }
}
