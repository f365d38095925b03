;; colsum(x, out, rows, vectors, rowBytes): out[v] += x[r, v] for every row r and every vector v
;; (four floats) < vectors, byte offsets on tfjs-backend-wasm's heap. The Sum/Mean kernel over
;; leading axes (sum.ts): x's rows are added into the output in memory order, so x is read once;
;; the caller zeroes out first and does the last cols mod 4 columns.
(module
  (import "env" "memory" (memory 1))
  (func (export "colsum") (param $x i32) (param $out i32) (param $rows i32) (param $vectors i32) (param $rowBytes i32)
    (local $r i32) (local $v i32) (local $xrow i32) (local $off i32)
    (block $rows_done
      (loop $next_row
        (br_if $rows_done (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $xrow (i32.add (local.get $x) (i32.mul (local.get $r) (local.get $rowBytes))))
        (local.set $v (i32.const 0))
        (block $row_done
          (loop $next_vector
            (br_if $row_done (i32.ge_u (local.get $v) (local.get $vectors)))
            (local.set $off (i32.mul (local.get $v) (i32.const 16)))
            (v128.store
              (i32.add (local.get $out) (local.get $off))
              (f32x4.add
                (v128.load (i32.add (local.get $out) (local.get $off)))
                (v128.load (i32.add (local.get $xrow) (local.get $off)))))
            (local.set $v (i32.add (local.get $v) (i32.const 1)))
            (br $next_vector)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $next_row)))))
