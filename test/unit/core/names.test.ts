import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { validateHolder, validateName } from "../../../src/backend-kit.ts";

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

  it("points at the offending character by its index in the name, with its code point", () => {
    fc.assert(
      fc.property(segment, fc.constantFrom(" ", "\0", "?", "#", "€", "😀"), (s, bad) => {
        const name = `jobs/${s}${bad}x`;
        const code = (bad.codePointAt(0) as number).toString(16).toUpperCase().padStart(4, "0");
        expect(() => validateName(name)).toThrow(
          `name: ${JSON.stringify(name)} has ${JSON.stringify(bad)} (U+${code}) at index ${5 + s.length}; allowed: letters, digits and . _ ~ : @ + = , - in segments separated by "/"`,
        );
        expect(name.slice(5 + s.length).startsWith(bad)).toBe(true);
      }),
    );
  });

  it("quotes the name of the issue's example and the index of its space", () => {
    expect(() => validateName("jobs/nightly report")).toThrow(
      'name: "jobs/nightly report" has " " (U+0020) at index 12; allowed: letters, digits and . _ ~ : @ + = , - in segments separated by "/"',
    );
    expect(() => validateName("jobs/報告/a b")).toThrow(/ at index 9; /);
  });

  it("says where a segment is empty or a dot segment", () => {
    expect(() => validateName("jobs//x")).toThrow(
      'name: "jobs//x" has an empty segment at index 5 (a leading, trailing or doubled "/"); allowed: letters, digits and . _ ~ : @ + = , - in segments separated by "/"',
    );
    expect(() => validateName("jobs/..")).toThrow(
      'name: "jobs/.." has the segment ".." at index 5, which is not allowed; allowed: letters, digits and . _ ~ : @ + = , - in segments separated by "/"',
    );
    expect(() => validateName("/jobs")).toThrow(/ has an empty segment at index 0 /);
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
