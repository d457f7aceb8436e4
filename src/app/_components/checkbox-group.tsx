/**
 * A fieldset of checkboxes sharing one form name, every one checked at first: the scopes of a
 * new API key, the event types of a new endpoint. Read with `FormData.getAll(name)`.
 */
export function CheckboxGroup({ legend, name, values }: { legend: string; name: string; values: readonly string[] }) {
  return (
    <fieldset className="field" style={{ border: 0, padding: 0, margin: 0 }}>
      <legend>{legend}</legend>
      {values.map((value) => (
        <label key={value} style={{ marginRight: "0.75rem" }}>
          <input type="checkbox" name={name} value={value} defaultChecked /> {value}
        </label>
      ))}
    </fieldset>
  );
}
