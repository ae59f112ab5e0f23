package monitoring

// SmallestWindow exports smallestWindow to the tests.
var SmallestWindow = smallestWindow
