import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { validateHolder, validateName } from "../../src/backend-kit.ts";

const segment = fc.stringMatching(/^[A-Za-z0-9_~:@+=,-][A-Za-z0-9._~:@+=,-]{0,12}$/);

describe("validateName", () => {
  it("accepts every name made of valid segments", () => {
    fc.assert(
      fc.property(fc.array(segment, { minLength: 1, maxLength: 5 }), (segments) => {
        const name = segments.join("/");
        return validateName(name) === name;
      }),
    );
  });

  it("rejects any name with a character outside the allowed set", () => {
    fc.assert(
      fc.property(segment, fc.constantFrom(" ", "\0", "\n", "?", "#", "%", "\\", "*", "\u007f"), (s, bad) => {
        expect(() => validateName(`${s}${bad}x`)).toThrow(/^name: /);
      }),
    );
  });

  it("points at the offending character, with its code point and place", () => {
    fc.assert(
      fc.property(segment, fc.constantFrom(" ", "\0", "?", "#", "€"), (s, bad) => {
        const name = `jobs/${s}${bad}x`;
        const code = (bad.codePointAt(0) as number).toString(16).toUpperCase().padStart(4, "0");
        expect(() => validateName(name)).toThrow(
          `name: ${JSON.stringify(name)}: segment 2 has ${JSON.stringify(bad)} (U+${code}) at character ${s.length + 1}; only letters, digits and . _ ~ : @ + = , - are allowed`,
        );
      }),
    );
  });

  it("says which segment is empty or a dot segment", () => {
    expect(() => validateName("jobs//x")).toThrow(
      'name: "jobs//x": segment 2 is empty (no leading, trailing or doubled "/"); a name is made of letters, digits and . _ ~ : @ + = , -',
    );
    expect(() => validateName("jobs/..")).toThrow('name: "jobs/..": segment 2 is "..", which is not allowed');
  });

  it("accepts letters of any script", () => {
    expect(validateName("jobs/報告/émission")).toBe("jobs/報告/émission");
  });
});

describe("validateHolder", () => {
  it("rejects control characters and unpaired surrogates, accepts the rest", () => {
    expect(validateHolder("worker eu-1 (pid 42)")).toBe("worker eu-1 (pid 42)");
    for (const bad of ["", "a\nb", "a\0", "\ud800", "x".repeat(257)]) {
      expect(() => validateHolder(bad)).toThrow(/^holder: /);
    }
  });
});
